package profile

import (
	"bufio"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// A capability policy admits a workload container's pods only when the
// container adds no capability outside its profile's proven set
// (Advice.Add), drops ALL and is not privileged. The same CEL rules serve
// the ValidatingAdmissionPolicy (FormatVAP) and the Kyverno Policy
// (FormatKyverno); docs/profiles.md describes them.

// celRule is one validation: Expression must hold; Message, or the CEL
// MessageExpression when set, says why it did not.
type celRule struct {
	Expression        string `json:"expression"`
	Message           string `json:"message,omitempty"`
	MessageExpression string `json:"messageExpression,omitempty"`
}

// noPolicy says why a profile gets no policy, or "" when it gets one.
func noPolicy(p *Profile) string {
	switch {
	case p.Kind != KeyKubernetes:
		return "no policy: not a Kubernetes workload"
	case p.Key.Container == "":
		return "no policy: the container name is unknown"
	case ownerCondition(p.Key) == "":
		return "no policy: unknown workload kind " + p.Key.WorkloadKind
	}
	return ""
}

// policyName is the cluster-unique name of a profile's policy objects.
func policyName(k Key) string { return "capprof." + k.Namespace + "." + k.ObjectName() }

// celString is s as a CEL string literal (Go's escapes are CEL's).
func celString(s string) string { return strconv.Quote(s) }

// ownerCondition is the CEL condition that a pod belongs to the key's
// workload, through its ownerReferences as the controllers set them at
// creation: a Deployment's pods are owned by the ReplicaSet named after it
// and their pod-template-hash label, a CronJob's by Jobs named after it and
// a number. "" for a kind it cannot tell.
func ownerCondition(k Key) string {
	owned := func(cond string) string {
		return "has(object.metadata.ownerReferences) && object.metadata.ownerReferences.exists(o, " + cond + ")"
	}
	w := k.Workload
	switch k.WorkloadKind {
	case KindDeployment:
		return "has(object.metadata.labels) && 'pod-template-hash' in object.metadata.labels && " +
			owned("o.kind == 'ReplicaSet' && o.name == "+celString(w+"-")+" + object.metadata.labels['pod-template-hash']")
	case KindCronJob:
		return owned("o.kind == 'Job' && o.name.matches(" + celString("^"+regexp.QuoteMeta(w)+"-[0-9]+$") + ")")
	case KindStatefulSet, KindDaemonSet, KindJob, KindReplicaSet:
		return owned("o.kind == " + celString(k.WorkloadKind) + " && o.name == " + celString(w))
	case KindPod:
		return "object.metadata.name == " + celString(w) + " && !has(object.metadata.ownerReferences)"
	}
	return ""
}

// capabilityRules are the validations of a profile's container.
func capabilityRules(p *Profile) []celRule {
	k := p.Key
	name := celString(k.Container)
	allowed := make([]string, len(p.Advice.Add))
	for i, a := range p.Advice.Add {
		allowed[i] = celString(a)
	}
	list := "[" + strings.Join(allowed, ", ") + "]"
	// A capability as Kubernetes and the runtimes accept it: any case,
	// with or without CAP_.
	norm := "(a.upperAscii().startsWith('CAP_') ? a.upperAscii().substring(4) : a.upperAscii())"
	caps := "c.securityContext.capabilities"
	who := fmt.Sprintf("container %s of %s %s/%s", k.Container, k.WorkloadKind, k.Namespace, k.Workload)
	profileRef := fmt.Sprintf("CapabilityProfile %s/%s", k.Namespace, k.ObjectName())
	proven := "none"
	if len(p.Advice.Add) > 0 {
		proven = strings.Join(p.Advice.Add, ", ")
	}
	return []celRule{
		{
			Expression: "object.spec.containers.all(c, c.name != " + name + " || !has(c.securityContext) || " +
				"!has(" + caps + ") || !has(" + caps + ".add) || " + caps + ".add.all(a, " + norm + " in " + list + "))",
			MessageExpression: celString(who+" adds ") + " + object.spec.containers.filter(c, c.name == " + name + ")[0]." +
				"securityContext.capabilities.add.filter(a, !(" + norm + " in " + list + ")).join(', ') + " +
				celString(", not in its "+profileRef+" (proven: "+proven+")"),
		},
		{
			Expression: "object.spec.containers.all(c, c.name != " + name + " || (has(c.securityContext) && " +
				"has(" + caps + ") && has(" + caps + ".drop) && " + caps + ".drop.exists(d, d.upperAscii() == 'ALL')))",
			Message: who + " must drop ALL capabilities (" + profileRef + ")",
		},
		{
			Expression: "object.spec.containers.all(c, c.name != " + name + " || !has(c.securityContext) || " +
				"!has(c.securityContext.privileged) || !c.securityContext.privileged)",
			Message: who + " must not be privileged: that grants every capability (" + profileRef + ")",
		},
	}
}

// writePolicies writes, per profile, a comment block and the documents
// policy returns, or a comment saying why there is none.
func writePolicies(w *bufio.Writer, profiles []Profile, policy func(*Profile) ([]any, error)) error {
	for i := range profiles {
		p := &profiles[i]
		if i > 0 {
			w.WriteString("---\n")
		}
		if why := noPolicy(p); why != "" {
			writeComments(w, []string{p.ID + ": " + why})
			continue
		}
		writeComments(w, adviceNotes(p))
		docs, err := policy(p)
		if err != nil {
			return err
		}
		for j, d := range docs {
			if j > 0 {
				w.WriteString("---\n")
			}
			b, err := manifestYAML(d)
			if err != nil {
				return fmt.Errorf("policy of %s: %w", p.ID, err)
			}
			w.Write(b)
		}
	}
	return nil
}

// manifestYAML is an object as YAML to apply: its empty status, which the
// API types always carry, left out.
func manifestYAML(obj any) ([]byte, error) {
	js, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	return yaml.Marshal(m)
}

// vapDocuments is a profile's ValidatingAdmissionPolicy and its binding:
// pods created in the workload's namespace and owned by the workload are
// denied unless the rules hold.
func vapDocuments(p *Profile) ([]any, error) {
	k := p.Key
	name := policyName(k)
	fail := admissionv1.Fail
	policy := &admissionv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: policyMeta(name, ""),
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": k.Namespace}},
				ResourceRules: []admissionv1.NamedRuleWithOperations{{RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create},
					Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
				}}},
			},
			MatchConditions: []admissionv1.MatchCondition{{Name: "owned-by-workload", Expression: ownerCondition(k)}},
		},
	}
	for _, r := range capabilityRules(p) {
		policy.Spec.Validations = append(policy.Spec.Validations, admissionv1.Validation{
			Expression: r.Expression, Message: r.Message, MessageExpression: r.MessageExpression,
		})
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: policyMeta(name, ""),
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
		},
	}
	return []any{policy, binding}, nil
}

// policyMeta is the metadata of a policy object: its name, namespace (""
// for cluster-scoped ones) and the label that says capprof made it.
func policyMeta(name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "capprof"}}
}

// kyvernoPolicy is the part of Kyverno's kyverno.io/v1 Policy that capprof
// writes. Kyverno's Go module is too heavy to depend on; the integration
// test checks the output against Kyverno's published CRD schema instead.
type kyvernoPolicy struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       kyvernoSpec       `json:"spec"`
}

type kyvernoSpec struct {
	Background bool          `json:"background"`
	Rules      []kyvernoRule `json:"rules"`
}

type kyvernoRule struct {
	Name             string                       `json:"name"`
	Match            kyvernoMatch                 `json:"match"`
	CELPreconditions []admissionv1.MatchCondition `json:"celPreconditions"`
	Validate         kyvernoValidate              `json:"validate"`
}

type kyvernoMatch struct {
	Any []kyvernoFilter `json:"any"`
}

type kyvernoFilter struct {
	Resources kyvernoResources `json:"resources"`
}

type kyvernoResources struct {
	Kinds      []string `json:"kinds"`
	Operations []string `json:"operations"`
}

type kyvernoValidate struct {
	FailureAction string     `json:"failureAction"`
	CEL           kyvernoCEL `json:"cel"`
}

type kyvernoCEL struct {
	Expressions []celRule `json:"expressions"`
}

// kyvernoDocuments is a profile's Kyverno Policy, in the workload's
// namespace: the same match and rules as the ValidatingAdmissionPolicy, as
// a CEL validate rule on Pods (autogen off: the rules are about pods, which
// the owner condition already ties to the workload).
func kyvernoDocuments(p *Profile) ([]any, error) {
	k := p.Key
	meta := policyMeta("capprof-"+k.ObjectName(), k.Namespace)
	meta.Annotations = map[string]string{"pod-policies.kyverno.io/autogen-controllers": "none"}
	policy := &kyvernoPolicy{
		APIVersion: "kyverno.io/v1",
		Kind:       "Policy",
		Metadata:   meta,
		Spec: kyvernoSpec{Rules: []kyvernoRule{{
			Name:             "capabilities",
			Match:            kyvernoMatch{Any: []kyvernoFilter{{Resources: kyvernoResources{Kinds: []string{"Pod"}, Operations: []string{"CREATE"}}}}},
			CELPreconditions: []admissionv1.MatchCondition{{Name: "owned-by-workload", Expression: ownerCondition(k)}},
			Validate:         kyvernoValidate{FailureAction: "Enforce", CEL: kyvernoCEL{Expressions: capabilityRules(p)}},
		}}},
	}
	return []any{policy}, nil
}

func writeVAP(w *bufio.Writer, profiles []Profile) error {
	return writePolicies(w, profiles, vapDocuments)
}

func writeKyverno(w *bufio.Writer, profiles []Profile) error {
	return writePolicies(w, profiles, kyvernoDocuments)
}
