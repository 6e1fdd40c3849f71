package recording

import (
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/capprof/capprof/api/v1alpha1"
)

// PolicyRules are what an agent needs to follow CapabilityRecordings, for
// its ClusterRole beside kube.PolicyRules.
func PolicyRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{v1alpha1.GroupName}, Resources: []string{v1alpha1.ResourceCapabilityRecordings}, Verbs: []string{"list", "watch"}},
	}
}
