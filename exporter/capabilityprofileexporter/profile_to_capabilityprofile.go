package capabilityprofileexporter

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capprof/capprof/api/v1alpha1"
	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/profile"
)

// specOf is the spec of a Kubernetes key's profile.
func specOf(k profile.Key) v1alpha1.CapabilityProfileSpec {
	return v1alpha1.CapabilityProfileSpec{
		Workload:  v1alpha1.WorkloadReference{Kind: k.WorkloadKind, Name: k.Workload},
		Container: k.Container,
	}
}

// keyOf is the inverse of specOf.
func keyOf(namespace string, s *v1alpha1.CapabilityProfileSpec) profile.Key {
	return profile.Key{Namespace: namespace, WorkloadKind: s.Workload.Kind, Workload: s.Workload.Name, Container: s.Container}
}

// sourceOf is one writer's evidence: its latest profile of the workload
// container, as its record carried it.
func sourceOf(p *profile.Profile, writer string, now time.Time) v1alpha1.Source {
	s := v1alpha1.Source{
		Name:            writer,
		Updated:         metav1.NewTime(now),
		Checks:          int64(p.Checks),
		Observations:    int64(p.Observations),
		FirstSeen:       timeOf(p.FirstSeen),
		LastSeen:        timeOf(p.LastSeen),
		Hosts:           p.Hosts,
		HostsTruncated:  p.HostsTruncated,
		Images:          p.Images,
		ImagesTruncated: p.ImagesTruncated,
		Effective:       kubernetesNames(p.Effective),
		Declared:        declaredOf(p.Declared),
		Capabilities:    make([]v1alpha1.CapabilityEvidence, 0, len(p.Capabilities)),
	}
	for i := range p.Capabilities {
		s.Capabilities = append(s.Capabilities, capabilityOf(&p.Capabilities[i]))
	}
	return s
}

// profileOf is the inverse of sourceOf, for profile.Builder.Restore.
// Capabilities whose names this version does not know are left out.
func profileOf(k profile.Key, s *v1alpha1.Source) profile.Profile {
	p := profile.Profile{
		Key:             k,
		FirstSeen:       timeFrom(s.FirstSeen),
		LastSeen:        timeFrom(s.LastSeen),
		Observations:    uint64(s.Observations),
		Checks:          uint64(s.Checks),
		Hosts:           s.Hosts,
		HostsTruncated:  s.HostsTruncated,
		Images:          s.Images,
		ImagesTruncated: s.ImagesTruncated,
		Effective:       s.Effective,
	}
	if d := s.Declared; d != nil {
		p.Declared = &profile.Declared{Add: d.Add, Drop: d.Drop, Privileged: d.Privileged}
	}
	for _, c := range s.Capabilities {
		id, err := caps.Parse(c.Name)
		if err != nil {
			continue
		}
		pc := profile.Capability{Name: caps.Name(id), ID: id, Verdict: c.Verdict}
		for _, e := range c.Evidence {
			pc.Evidence = append(pc.Evidence, profile.Evidence{
				Class:                e.Class,
				Granted:              uint64(e.Granted),
				Denied:               uint64(e.Denied),
				AuditUnknown:         uint64(e.AuditUnknown),
				FirstSeen:            timeFrom(e.FirstSeen),
				LastSeen:             timeFrom(e.LastSeen),
				Executables:          e.Executables,
				ExecutablesTruncated: e.ExecutablesTruncated,
				Syscalls:             e.Syscalls,
				SyscallsTruncated:    e.SyscallsTruncated,
			})
		}
		p.Capabilities = append(p.Capabilities, pc)
	}
	return p
}

// mergeStatus replaces the writer's source in old's sources by src and
// rederives the rest of the status from all sources: internal/profile
// merges them (counts add up, windows widen, lists are united) and derives
// verdicts and advice with the same rules as every other output.
func mergeStatus(k profile.Key, old *v1alpha1.CapabilityProfileStatus, src v1alpha1.Source, now time.Time, stableAfter time.Duration) v1alpha1.CapabilityProfileStatus {
	sources := slices.DeleteFunc(slices.Clone(old.Sources), func(s v1alpha1.Source) bool { return s.Name == src.Name })
	sources = append(sources, src)
	slices.SortFunc(sources, func(a, b v1alpha1.Source) int { return strings.Compare(a.Name, b.Name) })

	b := profile.NewBuilder()
	for i := range sources {
		b.Restore(profileOf(k, &sources[i]))
	}
	merged := b.Profiles()[0]
	all := sourceOf(&merged, "", now)
	st := v1alpha1.CapabilityProfileStatus{
		Checks:            all.Checks,
		Observations:      all.Observations,
		FirstSeen:         all.FirstSeen,
		LastSeen:          all.LastSeen,
		Hosts:             all.Hosts,
		Images:            all.Images,
		Effective:         all.Effective,
		Capabilities:      all.Capabilities,
		Declared:          all.Declared,
		Advice:            adviceOf(&merged.Advice),
		LastNewCapability: old.LastNewCapability,
		Sources:           sources,
		Conditions:        slices.Clone(old.Conditions),
	}
	st.RuntimeSetupChecks, st.NotAuditedChecks = ignoredChecks(&merged)
	if st.LastNewCapability == nil || hasNewCapability(old.Capabilities, st.Capabilities) {
		t := metav1.NewTime(now)
		st.LastNewCapability = &t
	}
	setConditions(&st, len(sources), now, stableAfter)
	return st
}

// hasNewCapability says whether now lists a capability before did not.
func hasNewCapability(before, now []v1alpha1.CapabilityEvidence) bool {
	for _, c := range now {
		if !slices.ContainsFunc(before, func(b v1alpha1.CapabilityEvidence) bool { return b.Name == c.Name }) {
			return true
		}
	}
	return false
}

// ignoredChecks counts the checks of the runtime_setup and not_audited
// classes.
func ignoredChecks(p *profile.Profile) (runtimeSetup, notAudited int64) {
	for i := range p.Capabilities {
		for _, e := range p.Capabilities[i].Evidence {
			switch e.Class {
			case profile.ReasonRuntimeSetup:
				runtimeSetup += int64(e.Granted + e.Denied)
			case profile.ReasonNotAudited:
				notAudited += int64(e.Granted + e.Denied)
			}
		}
	}
	return runtimeSetup, notAudited
}

// setConditions sets Observed, Stable and Verified; meta.SetStatusCondition
// keeps a condition's transition time while its status stays.
func setConditions(st *v1alpha1.CapabilityProfileStatus, sources int, now time.Time, stableAfter time.Duration) {
	set := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: metav1.NewTime(now),
		})
	}
	set(v1alpha1.ConditionObserved, metav1.ConditionTrue, "ChecksObserved",
		fmt.Sprintf("%d checks from %d writer(s) on %d host(s)", st.Checks, sources, len(st.Hosts)))

	since := now.Sub(st.LastNewCapability.Time)
	if since >= stableAfter {
		set(v1alpha1.ConditionStable, metav1.ConditionTrue, "NoNewCapability",
			fmt.Sprintf("no new capability for %s (stable_after %s)", since.Truncate(time.Second), stableAfter))
	} else {
		set(v1alpha1.ConditionStable, metav1.ConditionFalse, "NewCapability",
			fmt.Sprintf("a new capability %s ago (stable_after %s)", since.Truncate(time.Second), stableAfter))
	}

	switch d := st.Advice.Diff; {
	case d == nil:
		set(v1alpha1.ConditionVerified, metav1.ConditionUnknown, "NothingDeclared", "no check carried the declared securityContext")
	case d.Matches:
		set(v1alpha1.ConditionVerified, metav1.ConditionTrue, "DeclaredMatchesAdvice", "the pods run with the advised capabilities")
	default:
		set(v1alpha1.ConditionVerified, metav1.ConditionFalse, "DeclaredDiffers", declaredDiff(d))
	}
}

// declaredDiff says what the declared securityContext lacks or has too much.
func declaredDiff(d *v1alpha1.AdviceDiff) string {
	var parts []string
	if len(d.Add) > 0 {
		parts = append(parts, "add "+strings.Join(d.Add, ","))
	}
	if len(d.Drop) > 0 {
		parts = append(parts, "remove "+strings.Join(d.Drop, ",")+" from add")
	}
	if d.DropAllMissing {
		parts = append(parts, "drop ALL")
	}
	if d.PrivilegedDeclared {
		parts = append(parts, "privileged: false")
	}
	return "declared securityContext differs from the advice: " + strings.Join(parts, "; ")
}

func capabilityOf(c *profile.Capability) v1alpha1.CapabilityEvidence {
	out := v1alpha1.CapabilityEvidence{
		Name:      caps.KubernetesName(c.ID),
		Verdict:   c.Verdict,
		Granted:   int64(c.Granted),
		Denied:    int64(c.Denied),
		Ignored:   int64(c.Ignored),
		FirstSeen: timeOf(c.FirstSeen),
		LastSeen:  timeOf(c.LastSeen),
	}
	for _, e := range c.Evidence {
		out.Evidence = append(out.Evidence, v1alpha1.ClassEvidence{
			Class:                e.Class,
			Granted:              int64(e.Granted),
			Denied:               int64(e.Denied),
			AuditUnknown:         int64(e.AuditUnknown),
			FirstSeen:            timeOf(e.FirstSeen),
			LastSeen:             timeOf(e.LastSeen),
			Executables:          e.Executables,
			ExecutablesTruncated: e.ExecutablesTruncated,
			Syscalls:             e.Syscalls,
			SyscallsTruncated:    e.SyscallsTruncated,
		})
	}
	return out
}

func adviceOf(a *profile.Advice) *v1alpha1.Advice {
	out := &v1alpha1.Advice{
		Add: a.Add, Drop: a.Drop, Denied: a.Denied, Namespaced: a.Namespaced,
		Unused: a.Unused, AuditUnknown: a.AuditUnknown, PSSLevel: a.PSSLevel,
	}
	if d := a.Diff; d != nil {
		out.Diff = &v1alpha1.AdviceDiff{
			Add: d.Add, Drop: d.Drop, DropAllMissing: d.DropAllMissing, PrivilegedDeclared: d.PrivilegedDeclared,
			DeclaredPSSLevel: d.DeclaredPSSLevel, Matches: d.Matches,
		}
	}
	return out
}

func declaredOf(d *profile.Declared) *v1alpha1.DeclaredCapabilities {
	if d == nil {
		return nil
	}
	return &v1alpha1.DeclaredCapabilities{Add: d.Add, Drop: d.Drop, Privileged: d.Privileged}
}

// kubernetesNames turns "CAP_" names into Kubernetes names.
func kubernetesNames(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, strings.TrimPrefix(n, "CAP_"))
	}
	return out
}

// timeOf is nil for the zero time.
func timeOf(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t)
	return &mt
}

// timeFrom is the inverse of timeOf.
func timeFrom(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}
