package profile

import (
	"slices"
	"strings"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/check"
)

// Resource attributes the key is derived from, and the declared
// securityContext (as resource or record attributes; a record attribute
// wins; any may be missing). The names are defined once, in package check,
// which emits them; they are repeated here for the profile's callers.
const (
	AttrNamespace          = check.AttrNamespace
	AttrPodName            = check.AttrPodName
	AttrContainerName      = check.AttrContainerName
	AttrImageName          = check.AttrImageName
	AttrImageTag           = check.AttrImageTag
	AttrDeploymentName     = check.AttrDeploymentName
	AttrReplicaSetName     = check.AttrReplicaSetName
	AttrDaemonSetName      = check.AttrDaemonSetName
	AttrStatefulSet        = check.AttrStatefulSetName
	AttrJobName            = check.AttrJobName
	AttrCronJobName        = check.AttrCronJobName
	AttrDeclaredAdd        = check.AttrDeclaredAdd
	AttrDeclaredDrop       = check.AttrDeclaredDrop
	AttrDeclaredPrivileged = check.AttrDeclaredPrivileged
	// AttrRuntimeSetup marks a check made by the container runtime while
	// setting the container up; check.FromAttributes decodes it into
	// Check.RuntimeSetup.
	AttrRuntimeSetup = check.AttrRuntimeSetup
)

// Observation is one recorded check with what the pipeline knows about
// where it came from.
type Observation struct {
	// Resource holds the OTLP resource attributes as strings; any may be
	// missing, and a nil map is fine.
	Resource map[string]string
	// Attributes holds record attributes that Check does not carry (the
	// declared securityContext), as strings. A key here wins over the same
	// key in Resource. May be nil.
	Attributes map[string]string
	// Check is the check; Check.RuntimeSetup marks one the container
	// runtime made while setting the container up (AttrRuntimeSetup).
	Check check.Check
}

// attr returns the value of a record or resource attribute.
func (o *Observation) attr(name string) (string, bool) {
	if v, ok := o.Attributes[name]; ok {
		return v, true
	}
	v, ok := o.Resource[name]
	return v, ok
}

// Declared is the securityContext a container was declared with, as far as
// the observations said.
type Declared struct {
	// Add and Drop are the declared capability lists in Kubernetes spelling
	// (no CAP_ prefix, "ALL" kept as is), sorted and without duplicates.
	// Names this package does not know are kept upper-cased.
	Add  []string `json:"add"`
	Drop []string `json:"drop"`
	// Privileged is securityContext.privileged; nil when not said.
	Privileged *bool `json:"privileged,omitempty"`
}

// declaredOf returns the declared securityContext an observation carries, or
// nil when it carries none of the attributes.
func declaredOf(o *Observation) *Declared {
	add, hasAdd := o.attr(AttrDeclaredAdd)
	drop, hasDrop := o.attr(AttrDeclaredDrop)
	priv, hasPriv := o.attr(AttrDeclaredPrivileged)
	if !hasAdd && !hasDrop && !hasPriv {
		return nil
	}
	d := &Declared{Add: parseCapList(add), Drop: parseCapList(drop)}
	if hasPriv {
		switch strings.ToLower(strings.TrimSpace(priv)) {
		case "true":
			t := true
			d.Privileged = &t
		case "false":
			f := false
			d.Privileged = &f
		}
	}
	return d
}

// all is the Kubernetes spelling of "every capability" in add and drop.
const all = "ALL"

// parseCapList normalizes a comma-separated capability list to Kubernetes
// names: "cap_net_raw, NET_ADMIN,all" gives [ALL NET_ADMIN NET_RAW]. Unknown
// names are kept, upper-cased, so that a diff can still name them.
func parseCapList(s string) []string {
	out := []string{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name := strings.ToUpper(item)
		if name == all {
			out = append(out, all)
			continue
		}
		if id, err := caps.Parse(item); err == nil {
			name = caps.KubernetesName(id)
		} else {
			name = strings.TrimPrefix(name, "CAP_")
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// clone returns a deep copy of d (nil stays nil).
func (d *Declared) clone() *Declared {
	if d == nil {
		return nil
	}
	c := &Declared{Add: slices.Clone(d.Add), Drop: slices.Clone(d.Drop)}
	if d.Privileged != nil {
		p := *d.Privileged
		c.Privileged = &p
	}
	return c
}
