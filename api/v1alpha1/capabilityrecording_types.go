package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CapabilityRecording selects the pods of its namespace whose capability
// checks the agents record, for a window. Agents narrowing the kernel's
// filter to the selection is not implemented yet (issue 11, part 3): the
// type is here so that the API and its CRD are settled.
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

// CapabilityRecordingStatus is what the agents and the gateway report.
type CapabilityRecordingStatus struct {
	// ActiveWorkloads is the number of workload containers being recorded.
	// +optional
	ActiveWorkloads int32 `json:"activeWorkloads,omitempty"`
	// Profiles names the CapabilityProfiles the recording produced, in its
	// namespace.
	// +optional
	// +listType=set
	Profiles []string `json:"profiles,omitempty"`
	// Conditions: Recording (the window is open), Complete (it ended).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Condition types of a CapabilityRecording.
const (
	ConditionRecording = "Recording"
	ConditionComplete  = "Complete"
)
