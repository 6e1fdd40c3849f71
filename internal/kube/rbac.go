package kube

import rbacv1 "k8s.io/api/rbac/v1"

// PolicyRules are the permissions the watcher needs, for the agent's
// ClusterRole: the node's pods, and the ReplicaSets and Jobs they belong
// to (for their Deployment and CronJob).
func PolicyRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"get"}},
		{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"get"}},
	}
}
