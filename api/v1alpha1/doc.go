// Package v1alpha1 is the capprof.dev/v1alpha1 API: the CapabilityProfile
// the gateway's capability_profile_k8s exporter writes, one per workload
// container, and the CapabilityRecording that selects what to record. The
// CRDs in deploy/crds and zz_generated.deepcopy.go are generated from these
// types by controller-gen (make generate-crds); docs/kubernetes.md describes
// the objects.
//
// +kubebuilder:object:generate=true
// +groupName=capprof.dev
package v1alpha1
