package kube

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/capprof/capprof/internal/check"
)

// Labels selects the pod labels exported as k8s.pod.label.<key>: all of
// them, the listed keys, or (the zero value) none.
type Labels struct {
	All  bool
	Keys []string
}

// ParseLabels parses "all", "none" (or "") or a comma-separated key list.
func ParseLabels(s string) (Labels, error) {
	switch strings.TrimSpace(s) {
	case "", "none":
		return Labels{}, nil
	case "all":
		return Labels{All: true}, nil
	}
	var keys []string
	for k := range strings.SplitSeq(s, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			return Labels{}, fmt.Errorf("labels %q: empty key", s)
		}
		if k == "all" || k == "none" {
			return Labels{}, fmt.Errorf("labels %q: %s cannot be combined with keys", s, k)
		}
		keys = append(keys, k)
	}
	return LabelKeys(keys)
}

// LabelKeys selects the given label keys.
func LabelKeys(keys []string) (Labels, error) {
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, " \t\n,") {
			return Labels{}, fmt.Errorf("label key %q: not a label key", k)
		}
	}
	if len(keys) == 0 {
		return Labels{}, errors.New("labels: the list names no key")
	}
	keys = slices.Clone(keys)
	slices.Sort(keys)
	return Labels{Keys: slices.Compact(keys)}, nil
}

// String is the form ParseLabels reads.
func (l Labels) String() string {
	switch {
	case l.All:
		return "all"
	case len(l.Keys) == 0:
		return "none"
	}
	return strings.Join(l.Keys, ",")
}

// selectFrom returns the selected labels of a pod, sorted by key.
func (l Labels) selectFrom(podLabels map[string]string) []check.Label {
	var out []check.Label
	switch {
	case l.All:
		for k, v := range podLabels {
			out = append(out, check.Label{Key: k, Value: v})
		}
		slices.SortFunc(out, func(a, b check.Label) int { return strings.Compare(a.Key, b.Key) })
	default:
		for _, k := range l.Keys { // sorted
			if v, ok := podLabels[k]; ok {
				out = append(out, check.Label{Key: k, Value: v})
			}
		}
	}
	return out
}
