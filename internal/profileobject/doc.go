// Package profileobject converts between internal/profile's Profile and
// the capprof.dev/v1alpha1 CapabilityProfile object: the
// capability_profile_k8s exporter writes objects with it, and capprof apply
// reads them back into profiles.
package profileobject
