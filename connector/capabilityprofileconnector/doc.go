// Package capabilityprofileconnector is the Collector connector of type
// "capability_profile" (logs to logs): it consumes linux.capability.check
// records from any number of nodes, keeps one capability profile per
// workload (internal/profile: a Kubernetes workload's container, so that
// replicas on different nodes merge; else an image, a container, or a host
// executable), and emits one linux.capability.profile record per profile
// that changed, every interval and at shutdown. With a storage extension
// the profiles survive a restart.
//
//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml
package capabilityprofileconnector
