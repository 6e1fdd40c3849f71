// Package capabilityprofileexporter is the Collector exporter of type
// "capability_profile_k8s" (logs): it takes the capability_profile
// connector's linux.capability.profile records of Kubernetes workloads and
// writes each as a capprof.dev/v1alpha1 CapabilityProfile in the workload's
// namespace, one per workload container, with server-side apply. Each writer
// (a gateway) keeps its own latest evidence in status.sources; the rest of
// the status merges every writer's (counts add up, lists are united) and is
// rederived by internal/profile's rules, so writers never lose each other's
// evidence. A write that loses a race (409) is merged again and retried;
// other API errors go back to the exporter helper, which retries with
// back-off, and are counted.
//
//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml
package capabilityprofileexporter
