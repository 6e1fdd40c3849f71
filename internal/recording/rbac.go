package recording

import (
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/capprof/capprof/api/v1alpha1"
)

// PolicyRules are what an agent needs for CapabilityRecordings, beside
// kube.PolicyRules in its ClusterRole: list and watch them (the informer),
// get one for the summary it computes, patch the status subresource
// (server-side apply of its node's entry and the summary), and get the
// CapabilityProfiles it names (Stable, and which exist at the end). No
// writes to a recording's spec, none to profiles.
func PolicyRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{v1alpha1.GroupName}, Resources: []string{v1alpha1.ResourceCapabilityRecordings}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{v1alpha1.GroupName}, Resources: []string{v1alpha1.ResourceCapabilityRecordings + "/status"}, Verbs: []string{"patch"}},
		{APIGroups: []string{v1alpha1.GroupName}, Resources: []string{v1alpha1.ResourceCapabilityProfiles}, Verbs: []string{"get"}},
	}
}
