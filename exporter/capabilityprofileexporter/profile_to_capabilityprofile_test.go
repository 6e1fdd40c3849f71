package capabilityprofileexporter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capprof/capprof/api/v1alpha1"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
	"github.com/capprof/capprof/internal/profile"
	"github.com/capprof/capprof/internal/profileobject"
)

// t0 is the time of the first test check.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// Capability numbers used in the tests.
const (
	capChown          = 0
	capNetBindService = 10
	capSysAdmin       = 21
)

// webKey is the key of the test workload's container.
var webKey = profile.Key{Namespace: "shop", WorkloadKind: profile.KindDeployment, Workload: "web", Container: "app"}

// webProfile is the profile of checks of the test workload made on node,
// with the declared securityContext as the pod said it: add is a
// comma-separated list, drop too.
func webProfile(node, add, drop string, checks ...check.Check) profile.Profile {
	b := profile.NewBuilder()
	res := map[string]string{
		profile.AttrNamespace: "shop", profile.AttrDeploymentName: "web", profile.AttrContainerName: "app",
		"host.name": node,
	}
	for _, c := range checks {
		b.Add(profile.Observation{Resource: res, Attributes: map[string]string{
			profile.AttrDeclaredAdd: add, profile.AttrDeclaredDrop: drop,
		}, Check: c})
	}
	return b.Profiles()[0]
}

// use is count granted (or denied) audited own checks of capID by exe,
// at t0+sec.
func use(capID int, exe string, sec int, count uint64, denied bool) check.Check {
	return check.Check{
		Time: t0.Add(time.Duration(sec) * time.Second), Cap: capID, Audit: check.Audited, Count: count,
		Denied: denied, UserNS: check.UserNamespace{IsHost: true}, Syscall: -1,
		Effective: 1<<capChown | 1<<capNetBindService,
		Process:   proc.Info{ExecutablePath: exe},
	}
}

func TestMergeStatusAddsWritersAndReplacesOwn(t *testing.T) {
	now := t0.Add(time.Hour)
	a1 := webProfile("node-1", "CHOWN", "ALL", use(capChown, "/bin/chown", 1, 2, false))
	st := mergeStatus(webKey, &v1alpha1.CapabilityProfileStatus{}, profileobject.SourceOf(&a1, "gw-a", now), now, time.Hour)
	require.Equal(t, int64(2), st.Checks)
	require.Equal(t, []string{"CHOWN"}, st.Advice.Add)
	require.Equal(t, "True", string(meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionVerified).Status))
	require.Equal(t, "False", string(meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionStable).Status))

	// Another writer: its evidence adds up with the first's, advice from both.
	b := webProfile("node-2", "CHOWN", "ALL", use(capNetBindService, "/bin/app", 2, 3, false), use(capSysAdmin, "/bin/mount", 3, 1, true))
	st = mergeStatus(webKey, &st, profileobject.SourceOf(&b, "gw-b", now), now, time.Hour)
	require.Equal(t, int64(6), st.Checks)
	require.Equal(t, []string{"node-1", "node-2"}, st.Hosts)
	require.Equal(t, []string{"CHOWN", "NET_BIND_SERVICE"}, st.Advice.Add)
	require.Equal(t, []string{"SYS_ADMIN"}, st.Advice.Denied)
	require.Equal(t, "baseline", st.Advice.PSSLevel)
	require.Len(t, st.Sources, 2)
	verified := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionVerified)
	require.Equal(t, metav1.ConditionFalse, verified.Status)
	require.Contains(t, verified.Message, "add NET_BIND_SERVICE")

	// The first writer again, with more checks: its counts replace its own,
	// the second's stay.
	a2 := webProfile("node-1", "CHOWN", "ALL", use(capChown, "/bin/chown", 1, 5, false))
	later := now.Add(2 * time.Hour)
	st = mergeStatus(webKey, &st, profileobject.SourceOf(&a2, "gw-a", later), later, time.Hour)
	require.Equal(t, int64(9), st.Checks)
	require.Len(t, st.Sources, 2)
	chown := st.Capabilities[0]
	require.Equal(t, "CHOWN", chown.Name)
	require.Equal(t, int64(5), chown.Granted)
	require.Equal(t, []string{"/bin/chown"}, chown.Evidence[0].Executables)
	// No new capability since now: stable after an hour.
	require.Equal(t, now, st.LastNewCapability.Time)
	require.Equal(t, metav1.ConditionTrue, meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionStable).Status)
}
