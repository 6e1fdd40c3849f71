package v1alpha1

import rbacv1 "k8s.io/api/rbac/v1"

// WriterPolicyRules are what the capability_profile_k8s exporter needs, and
// all it gets (deploy/base/gateway-rbac.yaml; test/k8se2e checks that both
// agree, and the exporter's integration test that each verb is needed): get
// to read the object it merges into; create and patch for the server-side
// apply that creates it (an apply that creates needs create); patch on
// status for the merged status. Never update, delete, list or watch.
func WriterPolicyRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{GroupName}, Resources: []string{ResourceCapabilityProfiles}, Verbs: []string{"get", "create", "patch"}},
		{APIGroups: []string{GroupName}, Resources: []string{ResourceCapabilityProfiles + "/status"}, Verbs: []string{"patch"}},
	}
}
