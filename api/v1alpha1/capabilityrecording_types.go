package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CapabilityRecording selects the pods of its namespace whose capability
// checks the agents record, for a window: while it is open, the agent of
// every node records only the selected pods of all recordings (in the
// kernel; docs/kubernetes.md). Each agent writes its own entry of
// status.nodes; the summary (activeWorkloads, profiles, conditions) is a
// function of those entries and the window, which every agent computes and
// writes alike.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=caprec,categories=capprof
// +kubebuilder:printcolumn:name="Selector",type=string,JSONPath=`.spec.podSelector.matchLabels`
// +kubebuilder:printcolumn:name="Duration",type=string,JSONPath=`.spec.duration`
// +kubebuilder:printcolumn:name="Active",type=integer,JSONPath=`.status.activeWorkloads`
// +kubebuilder:printcolumn:name="Recording",type=string,JSONPath=`.status.conditions[?(@.type=="Recording")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type CapabilityRecording struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   CapabilityRecordingSpec   `json:"spec"`
	Status CapabilityRecordingStatus `json:"status,omitempty"`
}

// CapabilityRecordingList is a list of CapabilityRecordings.
//
// +kubebuilder:object:root=true
type CapabilityRecordingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CapabilityRecording `json:"items"`
}

// CapabilityRecordingSpec says what to record and for how long.
type CapabilityRecordingSpec struct {
	// PodSelector selects pods in the recording's namespace; an empty
	// selector selects them all.
	PodSelector metav1.LabelSelector `json:"podSelector"`
	// Containers narrows the selection to these container names; empty
	// means every container of the selected pods.
	// +optional
	// +listType=set
	Containers []string `json:"containers,omitempty"`
	// Duration ends the recording this long after it started; without it
	// the recording runs until deleted or, with UntilStable, until every
	// selected workload's profile is Stable.
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`
	// +optional
	UntilStable bool `json:"untilStable,omitempty"`
}

// CapabilityRecordingStatus is what the agents report.
type CapabilityRecordingStatus struct {
	// ActiveWorkloads is the number of workload containers being recorded
	// (on all nodes; 0 once the window ended).
	// +optional
	ActiveWorkloads int32 `json:"activeWorkloads,omitempty"`
	// Profiles names the CapabilityProfiles the recording produced, in its
	// namespace: set when the window ends, to those of the recorded
	// workload containers that exist.
	// +optional
	// +listType=set
	Profiles []string `json:"profiles,omitempty"`
	// Nodes has an entry per node whose agent selected for the recording,
	// each written by that node's agent only (server-side apply, field
	// manager capprof-agent.<node>).
	// +optional
	// +listType=map
	// +listMapKey=node
	Nodes []RecordingNodeStatus `json:"nodes,omitempty"`
	// Conditions: Recording (the window is open), Complete (it ended).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// RecordingNodeStatus is what one node's agent records for a recording.
type RecordingNodeStatus struct {
	Node string `json:"node"`
	// Pods is the number of selected pods on the node now.
	// +optional
	Pods int32 `json:"pods,omitempty"`
	// Cgroups is the number of their cgroups in the kernel's selection.
	// +optional
	Cgroups int32 `json:"cgroups,omitempty"`
	// Workloads names the CapabilityProfiles of the workload containers
	// selected on the node now.
	// +optional
	// +listType=set
	Workloads []string `json:"workloads,omitempty"`
	// Recorded names the CapabilityProfiles of every workload container
	// the node selected during the window.
	// +optional
	// +listType=set
	Recorded []string `json:"recorded,omitempty"`
}

// Condition types of a CapabilityRecording.
const (
	ConditionRecording = "Recording"
	ConditionComplete  = "Complete"
)

// Reasons of a CapabilityRecording's conditions.
const (
	ReasonWindowOpen      = "WindowOpen"
	ReasonDurationElapsed = "DurationElapsed"
	ReasonProfilesStable  = "ProfilesStable"
)
