package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CapabilityProfile is what capprof observed of one workload container's
// Linux capability checks, on every node, and the securityContext the
// evidence supports. The spec names the container; the status is written by
// the gateway's capability_profile_k8s exporter (docs/kubernetes.md). It is
// owned by nothing: it outlives the pods it describes.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=capprofile;capprofiles,categories=capprof
// +kubebuilder:printcolumn:name="Workload",type=string,JSONPath=`.spec.workload.name`
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.workload.kind`,priority=1
// +kubebuilder:printcolumn:name="Container",type=string,JSONPath=`.spec.container`
// +kubebuilder:printcolumn:name="Add",type=string,JSONPath=`.status.advice.add`
// +kubebuilder:printcolumn:name="Denied",type=string,JSONPath=`.status.advice.denied`
// +kubebuilder:printcolumn:name="PSS",type=string,JSONPath=`.status.advice.pssLevel`
// +kubebuilder:printcolumn:name="Checks",type=integer,JSONPath=`.status.checks`
// +kubebuilder:printcolumn:name="Last Seen",type=date,JSONPath=`.status.lastSeen`
// +kubebuilder:printcolumn:name="Verified",type=string,JSONPath=`.status.conditions[?(@.type=="Verified")].status`
// +kubebuilder:printcolumn:name="Stable",type=string,JSONPath=`.status.conditions[?(@.type=="Stable")].status`,priority=1
type CapabilityProfile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   CapabilityProfileSpec   `json:"spec"`
	Status CapabilityProfileStatus `json:"status,omitempty"`
}

// CapabilityProfileList is a list of CapabilityProfiles.
//
// +kubebuilder:object:root=true
type CapabilityProfileList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CapabilityProfile `json:"items"`
}

// CapabilityProfileSpec names the workload container the profile is about,
// in the profile's namespace. It is set when the profile is created and
// never changes.
type CapabilityProfileSpec struct {
	Workload WorkloadReference `json:"workload"`
	// Container is the container's name in the pod template; empty when the
	// records did not name it.
	// +optional
	Container string `json:"container,omitempty"`
}

// WorkloadReference is the outermost owner of the profiled pods: a
// Deployment rather than its ReplicaSet, a CronJob rather than its Job; a
// Pod when nothing owns it.
type WorkloadReference struct {
	// +kubebuilder:validation:Enum=Deployment;StatefulSet;DaemonSet;CronJob;Job;ReplicaSet;Pod
	Kind string `json:"kind"`
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// CapabilityProfileStatus is the observed evidence, merged over every
// writer (Sources), and the advice derived from it.
type CapabilityProfileStatus struct {
	// Checks is the number of kernel capability checks observed;
	// Observations the number of records they came in.
	// +optional
	Checks int64 `json:"checks,omitempty"`
	// +optional
	Observations int64 `json:"observations,omitempty"`
	// FirstSeen and LastSeen bound the times of the checks (the window).
	// +optional
	FirstSeen *metav1.Time `json:"firstSeen,omitempty"`
	// +optional
	LastSeen *metav1.Time `json:"lastSeen,omitempty"`
	// Hosts are the nodes the checks came from; Images the container images,
	// as the records named them (with a digest when the runtime gave one).
	// +optional
	// +listType=set
	Hosts []string `json:"hosts,omitempty"`
	// +optional
	// +listType=set
	Images []string `json:"images,omitempty"`
	// Effective is what the workload's own checks showed it to hold
	// (Kubernetes names).
	// +optional
	// +listType=set
	Effective []string `json:"effective,omitempty"`
	// RuntimeSetupChecks and NotAuditedChecks count the checks ignored
	// because the container runtime made them while setting the container
	// up, and because the kernel asked without auditing (NOAUDIT probes).
	// +optional
	RuntimeSetupChecks int64 `json:"runtimeSetupChecks,omitempty"`
	// +optional
	NotAuditedChecks int64 `json:"notAuditedChecks,omitempty"`
	// Capabilities lists every capability checked.
	// +optional
	// +listType=map
	// +listMapKey=name
	Capabilities []CapabilityEvidence `json:"capabilities,omitempty"`
	// Declared is the securityContext the pods were last seen declaring.
	// +optional
	Declared *DeclaredCapabilities `json:"declared,omitempty"`
	// Advice is the securityContext the evidence supports.
	// +optional
	Advice *Advice `json:"advice,omitempty"`
	// LastNewCapability is when a capability first appeared in Capabilities;
	// the Stable condition counts from it.
	// +optional
	LastNewCapability *metav1.Time `json:"lastNewCapability,omitempty"`
	// Sources holds each writer's latest evidence (its counts, as its last
	// record said them); the fields above merge them: counts add up, lists
	// are united. One writer never overwrites another's evidence.
	// +optional
	// +listType=map
	// +listMapKey=name
	Sources []Source `json:"sources,omitempty"`
	// Conditions: Observed (evidence has arrived), Stable (no new capability
	// for the writer's stable_after), Verified (the declared securityContext
	// is the advice: the workload runs as advised).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Condition types of a CapabilityProfile.
const (
	ConditionObserved = "Observed"
	ConditionStable   = "Stable"
	ConditionVerified = "Verified"
)

// CapabilityEvidence is one capability's checks.
type CapabilityEvidence struct {
	// Name is the Kubernetes name (NET_BIND_SERVICE).
	Name string `json:"name"`
	// Verdict: needed, denied-only, namespaced or ignored (docs/profiles.md).
	// +kubebuilder:validation:Enum=needed;denied-only;namespaced;ignored
	Verdict string `json:"verdict"`
	// +optional
	Granted int64 `json:"granted,omitempty"`
	// +optional
	Denied int64 `json:"denied,omitempty"`
	// +optional
	Ignored int64 `json:"ignored,omitempty"`
	// +optional
	FirstSeen *metav1.Time `json:"firstSeen,omitempty"`
	// +optional
	LastSeen *metav1.Time `json:"lastSeen,omitempty"`
	// Evidence has one entry per class of checks: own, namespaced, or an
	// ignored reason (runtime_setup, foreign_credentials, not_audited).
	// +optional
	// +listType=map
	// +listMapKey=class
	Evidence []ClassEvidence `json:"evidence,omitempty"`
}

// ClassEvidence is what the checks of one class of one capability showed.
type ClassEvidence struct {
	Class string `json:"class"`
	// +optional
	Granted int64 `json:"granted,omitempty"`
	// +optional
	Denied int64 `json:"denied,omitempty"`
	// AuditUnknown counts the checks whose audit flag the attach method
	// could not tell.
	// +optional
	AuditUnknown int64 `json:"auditUnknown,omitempty"`
	// +optional
	FirstSeen *metav1.Time `json:"firstSeen,omitempty"`
	// +optional
	LastSeen *metav1.Time `json:"lastSeen,omitempty"`
	// Executables and Syscalls that made the checks (bounded lists; the
	// Truncated flags say that more were seen).
	// +optional
	// +listType=set
	Executables []string `json:"executables,omitempty"`
	// +optional
	ExecutablesTruncated bool `json:"executablesTruncated,omitempty"`
	// +optional
	// +listType=set
	Syscalls []string `json:"syscalls,omitempty"`
	// +optional
	SyscallsTruncated bool `json:"syscallsTruncated,omitempty"`
}

// DeclaredCapabilities is a container's declared securityContext, as far
// as capabilities go.
type DeclaredCapabilities struct {
	// +optional
	// +listType=set
	Add []string `json:"add,omitempty"`
	// +optional
	// +listType=set
	Drop []string `json:"drop,omitempty"`
	// +optional
	Privileged *bool `json:"privileged,omitempty"`
}

// Advice is the securityContext the evidence supports (docs/profiles.md).
type Advice struct {
	// Add is what the workload was granted and needed; Drop is always [ALL].
	// +optional
	// +listType=set
	Add []string `json:"add,omitempty"`
	// +optional
	// +listType=set
	Drop []string `json:"drop,omitempty"`
	// Denied was attempted and denied, never granted: a person decides.
	// +optional
	// +listType=set
	Denied []string `json:"denied,omitempty"`
	// Namespaced was used only in user namespaces the workload owns.
	// +optional
	// +listType=set
	Namespaced []string `json:"namespaced,omitempty"`
	// Unused was held but never needed.
	// +optional
	// +listType=set
	Unused []string `json:"unused,omitempty"`
	// AuditUnknown lists added capabilities whose evidence may include
	// NOAUDIT probes.
	// +optional
	// +listType=set
	AuditUnknown []string `json:"auditUnknown,omitempty"`
	// PSSLevel is the most restrictive Pod Security Standards level the
	// advice's capabilities satisfy.
	// +kubebuilder:validation:Enum=restricted;baseline;privileged
	// +optional
	PSSLevel string `json:"pssLevel,omitempty"`
	// Diff compares the advice with Declared; absent when nothing was
	// declared.
	// +optional
	Diff *AdviceDiff `json:"diff,omitempty"`
}

// AdviceDiff is what changes from the declared securityContext to the
// advice.
type AdviceDiff struct {
	// +optional
	// +listType=set
	Add []string `json:"add,omitempty"`
	// +optional
	// +listType=set
	Drop []string `json:"drop,omitempty"`
	// +optional
	DropAllMissing bool `json:"dropAllMissing,omitempty"`
	// +optional
	PrivilegedDeclared bool `json:"privilegedDeclared,omitempty"`
	// +optional
	DeclaredPSSLevel string `json:"declaredPSSLevel,omitempty"`
	// +optional
	Matches bool `json:"matches,omitempty"`
}

// Source is one writer's evidence: a gateway's latest profile record of the
// workload container.
type Source struct {
	// Name identifies the writer (the exporter's writer setting).
	Name string `json:"name"`
	// Updated is when the writer last wrote.
	Updated metav1.Time `json:"updated"`
	// +optional
	Checks int64 `json:"checks,omitempty"`
	// +optional
	Observations int64 `json:"observations,omitempty"`
	// +optional
	FirstSeen *metav1.Time `json:"firstSeen,omitempty"`
	// +optional
	LastSeen *metav1.Time `json:"lastSeen,omitempty"`
	// +optional
	// +listType=set
	Hosts []string `json:"hosts,omitempty"`
	// +optional
	HostsTruncated bool `json:"hostsTruncated,omitempty"`
	// +optional
	// +listType=set
	Images []string `json:"images,omitempty"`
	// +optional
	ImagesTruncated bool `json:"imagesTruncated,omitempty"`
	// +optional
	// +listType=set
	Effective []string `json:"effective,omitempty"`
	// +optional
	Declared *DeclaredCapabilities `json:"declared,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=name
	Capabilities []CapabilityEvidence `json:"capabilities,omitempty"`
}
