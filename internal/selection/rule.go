package selection

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/capprof/capprof/internal/config"
)

// Default says what is recorded while no rule selects anything.
type Default string

const (
	// RecordAll records every check the static filters let through: the
	// behaviour without recordings, and the default.
	RecordAll Default = "all"
	// RecordSelected records only what a rule selects: nothing while no
	// recording exists.
	RecordSelected Default = "selected"
)

var defaults = config.Names[Default]{{Value: RecordAll, Name: "all"}, {Value: RecordSelected, Name: "selected"}}

func (d Default) MarshalText() ([]byte, error) { return defaults.Text(d) }

func (d *Default) UnmarshalText(text []byte) (err error) {
	*d, err = defaults.Parse(text)
	return err
}

// Validate reports whether d is a default.
func (d Default) Validate() error { return defaults.Check(d) }

// Rule selects pods of one namespace, and optionally some of their
// containers.
type Rule struct {
	Namespace string
	// PodName, when set, selects the pod of that name only.
	PodName string
	// Selector selects pods by label; nil selects every pod.
	Selector labels.Selector
	// Containers narrows the selection to these container names; empty
	// selects whole pods.
	Containers []string
}

// String names the rule in logs.
func (r Rule) String() string {
	s := "namespace " + r.Namespace
	if r.PodName != "" {
		s += " pod " + r.PodName
	}
	if r.Selector != nil && !r.Selector.Empty() {
		s += " selector " + r.Selector.String()
	}
	if len(r.Containers) > 0 {
		s += fmt.Sprintf(" containers %v", r.Containers)
	}
	return s
}

// Matches reports whether the rule selects the pod.
func (r Rule) Matches(pod *corev1.Pod) bool {
	if pod.Namespace != r.Namespace || r.PodName != "" && pod.Name != r.PodName {
		return false
	}
	return r.Selector == nil || r.Selector.Matches(labels.Set(pod.Labels))
}
