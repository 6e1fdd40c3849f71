package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of capprof's resources.
const GroupName = "capprof.dev"

// SchemeGroupVersion is capprof.dev/v1alpha1.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

// Resource names, as RBAC rules and REST paths spell them.
const (
	ResourceCapabilityProfiles   = "capabilityprofiles"
	ResourceCapabilityRecordings = "capabilityrecordings"
)

// AddToScheme adds the types of this version to a scheme, for clients that
// decode them (client-go's typed or dynamic clients, kubectl-style tools).
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion,
		&CapabilityProfile{}, &CapabilityProfileList{},
		&CapabilityRecording{}, &CapabilityRecordingList{},
	)
	metav1.AddToGroupVersion(s, SchemeGroupVersion)
	return nil
}
