package capabilityprofileexporter

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capprof/capprof/api/v1alpha1"
	"github.com/capprof/capprof/internal/profile"
	"github.com/capprof/capprof/internal/profileobject"
)

// mergeStatus replaces the writer's source in old's sources by src and
// rederives the rest of the status from all sources: internal/profile
// merges them (counts add up, windows widen, lists are united) and derives
// verdicts and advice with the same rules as every other output.
func mergeStatus(k profile.Key, old *v1alpha1.CapabilityProfileStatus, src v1alpha1.Source, now time.Time, stableAfter time.Duration) v1alpha1.CapabilityProfileStatus {
	sources := slices.DeleteFunc(slices.Clone(old.Sources), func(s v1alpha1.Source) bool { return s.Name == src.Name })
	sources = append(sources, src)
	slices.SortFunc(sources, func(a, b v1alpha1.Source) int { return strings.Compare(a.Name, b.Name) })

	merged := profileobject.Merged(k, sources)
	all := profileobject.SourceOf(&merged, "", now)
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
		Advice:            profileobject.AdviceOf(&merged.Advice),
		LastNewCapability: old.LastNewCapability,
		Sources:           sources,
		Conditions:        slices.Clone(old.Conditions),
	}
	st.RuntimeSetupChecks, st.NotAuditedChecks = ignoredChecks(&merged)
	if st.LastNewCapability == nil || hasNewCapability(old.Capabilities, st.Capabilities) {
		t := metav1.NewTime(now)
		st.LastNewCapability = &t
	}
	setConditions(&st, len(sources), now, stableAfter, merged.Advice.Diff)
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
func setConditions(st *v1alpha1.CapabilityProfileStatus, sources int, now time.Time, stableAfter time.Duration, diff *profile.Diff) {
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

	switch {
	case diff == nil:
		set(v1alpha1.ConditionVerified, metav1.ConditionUnknown, "NothingDeclared", "no check carried the declared securityContext")
	case diff.Matches:
		set(v1alpha1.ConditionVerified, metav1.ConditionTrue, "DeclaredMatchesAdvice", "the pods run with the advised capabilities")
	default:
		set(v1alpha1.ConditionVerified, metav1.ConditionFalse, "DeclaredDiffers", "declared securityContext differs from the advice: "+diff.Text())
	}
}
