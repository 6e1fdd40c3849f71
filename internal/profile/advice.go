package profile

import (
	"slices"

	"github.com/capprof/capprof/internal/caps"
)

// Advice is the securityContext a profile's evidence supports. Capability
// names are Kubernetes names (no CAP_ prefix), sorted.
type Advice struct {
	// Drop is always [ALL]: start from nothing, add what was needed.
	Drop []string `json:"drop"`
	// Add is the needed capabilities.
	Add []string `json:"add"`
	// PSSLevel is the most restrictive Pod Security Standards level whose
	// capability controls the advice satisfies (PSSRestricted, ...). Other
	// controls of the level (runAsNonRoot, seccomp, ...) are not judged here.
	PSSLevel string `json:"pss_level"`
	// Unused is held (in the effective set) but never needed.
	Unused []string `json:"unused"`
	// Denied is attempted and denied: own checks denied, never granted.
	// Never added automatically; a person decides.
	Denied []string `json:"denied"`
	// Namespaced is used in user namespaces the workload owns and not
	// needed otherwise; not needed in the securityContext.
	Namespaced []string `json:"namespaced"`
	// AuditUnknown lists the added capabilities some of whose granted
	// evidence came from checks whose audit flag was unknown: they may
	// include NOAUDIT probes, so check them.
	AuditUnknown []string `json:"audit_unknown"`
	// Diff compares the advice with the declared securityContext; nil when
	// none was declared.
	Diff *Diff `json:"diff,omitempty"`
}

// Diff is what changes from the declared securityContext to the advice.
type Diff struct {
	// Add lists capabilities to add to the declared add list; Drop the
	// declared added ones to remove from it.
	Add  []string `json:"add"`
	Drop []string `json:"drop"`
	// DropAllMissing: the declared drop list lacks ALL, so the container
	// also holds the runtime's default capabilities.
	DropAllMissing bool `json:"drop_all_missing"`
	// PrivilegedDeclared: privileged: true was declared, which grants every
	// capability whatever the lists say; the advice needs it false.
	PrivilegedDeclared bool `json:"privileged_declared"`
	// DeclaredPSSLevel is the level the declared securityContext's
	// capability controls satisfy.
	DeclaredPSSLevel string `json:"declared_pss_level"`
	// Matches: the declared securityContext is the advice already.
	Matches bool `json:"matches"`
}

// Pod Security Standards levels.
const (
	PSSRestricted = "restricted"
	PSSBaseline   = "baseline"
	PSSPrivileged = "privileged"
)

// restrictedAdd is what the Restricted level lets a container add back after
// dropping ALL: "Containers must drop ALL capabilities, and are only
// permitted to add back the NET_BIND_SERVICE capability" (Kubernetes Pod
// Security Standards, Restricted, "Capabilities (v1.22+)",
// https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted).
var restrictedAdd = []string{"NET_BIND_SERVICE"}

// baselineAdd is what the Baseline level allows in capabilities.add: "Adding
// additional capabilities beyond those listed below must be disallowed",
// followed by this list (Kubernetes Pod Security Standards, Baseline,
// "Capabilities",
// https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline;
// the same list as capabilities_allowed_1_0 in k8s.io/pod-security-admission
// policy/check_capabilities_baseline.go). Sorted.
var baselineAdd = []string{
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

// PSSLevel returns the most restrictive Pod Security Standards level whose
// capability controls a container with these capabilities.add and .drop and
// privileged flag satisfies. Names are Kubernetes names ("ALL" included).
//
// Restricted: drop includes ALL, add ⊆ {NET_BIND_SERVICE}, and (as
// Baseline) not privileged. Baseline: not privileged, add ⊆ the Baseline
// list. Anything else needs Privileged.
func PSSLevel(add, drop []string, privileged bool) string {
	if privileged || !subset(add, baselineAdd) {
		return PSSPrivileged
	}
	if slices.Contains(drop, all) && subset(add, restrictedAdd) {
		return PSSRestricted
	}
	return PSSBaseline
}

// subset reports whether every name in a is in b.
func subset(a, b []string) bool {
	for _, n := range a {
		if !slices.Contains(b, n) {
			return false
		}
	}
	return true
}

// advise derives the advice of a profile whose capabilities are built;
// effective is what the workload was seen to hold.
func advise(p *Profile, effective caps.Set) Advice {
	a := Advice{
		Drop:         []string{all},
		Add:          []string{},
		Unused:       []string{},
		Denied:       []string{},
		Namespaced:   []string{},
		AuditUnknown: []string{},
	}
	var needed caps.Set
	for i := range p.Capabilities {
		c := &p.Capabilities[i]
		name := caps.KubernetesName(c.ID)
		switch c.Verdict {
		case VerdictNeeded:
			needed = needed.With(c.ID)
			a.Add = append(a.Add, name)
			if own, _ := c.EvidenceOf(EvidenceOwn); own.AuditUnknown > 0 {
				a.AuditUnknown = append(a.AuditUnknown, name)
			}
		case VerdictDeniedOnly:
			a.Denied = append(a.Denied, name)
		}
		if _, ok := c.EvidenceOf(EvidenceNamespaced); ok && c.Verdict != VerdictNeeded {
			a.Namespaced = append(a.Namespaced, name)
		}
	}
	for _, id := range (effective &^ needed).IDs() {
		a.Unused = append(a.Unused, caps.KubernetesName(id))
	}
	for _, l := range [][]string{a.Add, a.Unused, a.Denied, a.Namespaced, a.AuditUnknown} {
		slices.Sort(l)
	}
	a.PSSLevel = PSSLevel(a.Add, a.Drop, false)
	if p.Declared != nil {
		a.Diff = diff(a.Add, p.Declared)
	}
	return a
}

// diff compares the advised add list with a declared securityContext.
func diff(add []string, d *Declared) *Diff {
	privileged := d.Privileged != nil && *d.Privileged
	df := &Diff{
		Add:                []string{},
		Drop:               []string{},
		DropAllMissing:     !slices.Contains(d.Drop, all),
		PrivilegedDeclared: privileged,
		DeclaredPSSLevel:   PSSLevel(d.Add, d.Drop, privileged),
	}
	if !slices.Contains(d.Add, all) {
		for _, n := range add {
			if !slices.Contains(d.Add, n) {
				df.Add = append(df.Add, n)
			}
		}
	}
	for _, n := range d.Add {
		if !slices.Contains(add, n) {
			df.Drop = append(df.Drop, n)
		}
	}
	df.Matches = len(df.Add) == 0 && len(df.Drop) == 0 && !df.DropAllMissing && !df.PrivilegedDeclared
	return df
}
