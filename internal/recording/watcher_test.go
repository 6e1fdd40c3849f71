package recording

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capprof/capprof/api/v1alpha1"
)

func TestRulesOf(t *testing.T) {
	created := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	rec := func(modify func(*v1alpha1.CapabilityRecording)) *v1alpha1.CapabilityRecording {
		r := &v1alpha1.CapabilityRecording{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "xwing", CreationTimestamp: metav1.NewTime(created)},
			Spec: v1alpha1.CapabilityRecordingSpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"class": "xwing"}},
				Containers:  []string{"spaceship"},
			},
		}
		modify(r)
		return r
	}
	complete := metav1.Condition{Type: v1alpha1.ConditionComplete, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonProfilesStable}
	tests := []struct {
		name    string
		rec     *v1alpha1.CapabilityRecording
		now     time.Time
		rule    string // "" for none
		end     time.Time
		wantErr string
	}{
		{name: "no window", rec: rec(func(*v1alpha1.CapabilityRecording) {}), now: created.Add(time.Hour),
			rule: "namespace default selector class=xwing containers [spaceship]"},
		{name: "inside its duration", rec: rec(func(r *v1alpha1.CapabilityRecording) { r.Spec.Duration = &metav1.Duration{Duration: time.Minute} }),
			now: created.Add(59 * time.Second), rule: "namespace default selector class=xwing containers [spaceship]", end: created.Add(time.Minute)},
		{name: "past its duration", rec: rec(func(r *v1alpha1.CapabilityRecording) { r.Spec.Duration = &metav1.Duration{Duration: time.Minute} }),
			now: created.Add(time.Minute)},
		{name: "complete", rec: rec(func(r *v1alpha1.CapabilityRecording) { r.Status.Conditions = []metav1.Condition{complete} }),
			now: created},
		{name: "bad selector", rec: rec(func(r *v1alpha1.CapabilityRecording) {
			r.Spec.PodSelector = metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "class", Operator: "Near"}}}
		}), now: created, wantErr: "pod selector:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, end, err := RulesOf(tt.rec, tt.now)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if len(rules) == 1 {
				got = rules[0].String()
			}
			if got != tt.rule || len(rules) > 1 || !end.Equal(tt.end) {
				t.Errorf("rules %v, end %v; want %q, %v", rules, end, tt.rule, tt.end)
			}
		})
	}
}

func TestNodeFieldManager(t *testing.T) {
	if got := NodeFieldManager("node-1"); got != "capprof-agent.node-1" {
		t.Errorf("NodeFieldManager(node-1) = %q", got)
	}
	long := strings.Repeat("n", 253) // the longest node name
	a, b := NodeFieldManager(long), NodeFieldManager(long[:252]+"m")
	if len(a) > maxFieldManager || len(b) > maxFieldManager || a == b {
		t.Errorf("long names: %q (%d), %q (%d): want distinct names of at most %d", a, len(a), b, len(b), maxFieldManager)
	}
}
