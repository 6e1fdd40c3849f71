package kyverno

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	kyvernov1 "github.com/kyverno/kyverno/api/kyverno/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// golden is the kyverno output of internal/profile's fixture.
const golden = "../../internal/profile/testdata/profiles.kyverno"

func TestKyvernoOutputIsAKyvernoPolicy(t *testing.T) {
	data, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	policies := 0
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var probe map[string]any
		if err := yaml.Unmarshal(doc, &probe); err != nil {
			t.Fatal(err)
		}
		if probe == nil {
			continue // a profile without a policy: only a comment
		}
		var p kyvernov1.Policy
		if err := yaml.UnmarshalStrict(doc, &p); err != nil {
			t.Fatalf("not a strict kyverno.io/v1 Policy: %v\n%s", err, doc)
		}
		if p.APIVersion != "kyverno.io/v1" || p.Kind != "Policy" || p.Namespace == "" {
			t.Errorf("%s: apiVersion %q kind %q namespace %q", p.Name, p.APIVersion, p.Kind, p.Namespace)
		}
		if warnings, errs := p.Validate(nil); len(errs) > 0 {
			t.Errorf("%s: Kyverno's validation: %v (warnings %v)", p.Name, errs.ToAggregate(), warnings)
		}
		rule := p.Spec.Rules[0]
		if rule.Validation == nil || rule.Validation.CEL == nil || len(rule.Validation.CEL.Expressions) != 3 ||
			len(rule.CELPreconditions) != 1 {
			t.Errorf("%s: rule %+v lacks its CEL validation or precondition", p.Name, rule)
		}
		if a := rule.Validation.FailureAction; a == nil || !a.Enforce() {
			t.Errorf("%s: failureAction %v, want Enforce", p.Name, a)
		}
		policies++
	}
	if policies != 4 {
		t.Errorf("%d policies, want one per Kubernetes workload container of the fixture (4)", policies)
	}
}
