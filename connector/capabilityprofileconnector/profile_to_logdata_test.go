package capabilityprofileconnector

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/profile"
)

// goldenProfiles builds profiles of each key shape the connector sees: a
// Deployment's replicas on two nodes (needed, denied-only, namespaced and
// not-audited checks), an image outside Kubernetes, a container of unknown
// image, and a host process.
func goldenProfiles() []profile.Profile {
	b := profile.NewBuilder()
	add := func(res check.ResourceFields, c check.Check) {
		b.Add(profile.Observation{Resource: resourceOf(res), Check: c})
	}

	add(workload("node-1", "web-1"), grant(capChown, "/bin/chown", "fchownat", 0))
	add(workload("node-2", "web-2"), grant(capChown, "/bin/chown", "fchownat", 5))
	denied := grant(capSysAdmin, "/bin/mount", "mount", 6)
	denied.Denied = true
	add(workload("node-2", "web-2"), denied)
	probe := grant(capSysAdmin, "/bin/app", "mmap", 7)
	probe.Audit = check.NotAudited
	add(workload("node-1", "web-1"), probe)
	ns := grant(capNetBindService, "/bin/app", "bind", 8)
	ns.UserNS = check.UserNamespace{Level: 1, OwnerUID: 1000}
	ns.EUID = 1000
	add(workload("node-1", "web-1"), ns)

	add(check.ResourceFields{HostName: "node-3", Kubernetes: &check.Kubernetes{ImageName: "registry.example/tools", ImageTag: "2.1"}},
		grant(capNetBindService, "/usr/bin/tool", "bind", 1))
	add(check.ResourceFields{HostName: "node-3", Container: cgroup.Container{ID: "3f1c"}}, grant(capChown, "/bin/chown", "chown", 2))
	add(check.ResourceFields{HostName: "node-1"}, grant(capNetBindService, "/usr/sbin/chronyd", "bind", 3))
	return b.Profiles()
}

func TestProfilesToLogsGolden(t *testing.T) {
	got := profilesToLogs(goldenProfiles(), "gw-0", "v1.2.3", time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC))
	path := filepath.Join("testdata", "profiles.yaml")
	// golden.WriteLogs(t, path, got) // uncomment to rewrite the golden file
	want, err := golden.ReadLogs(path)
	require.NoError(t, err)
	require.NoError(t, plogtest.CompareLogs(want, got))
}

func TestProfileRecordOfTheWorkload(t *testing.T) {
	logs := profilesToLogs(goldenProfiles(), "gw-0", "", time.Now())
	lr := profileRecords([]plog.Logs{logs})["k8s shop/Deployment/web/app"]
	require.Len(t, lr, 1)
	r := lr[0]
	require.Equal(t, []string{"CHOWN"}, stringsAttr(r, attrRecommendedAdd))
	require.Equal(t, []string{"ALL"}, stringsAttr(r, attrRecommendedDrop))
	require.Equal(t, []string{"CHOWN", "NET_BIND_SERVICE"}, stringsAttr(r, attrUsed))
	require.Equal(t, []string{"SYS_ADMIN"}, stringsAttr(r, attrDenied))
	require.Equal(t, []string{"NET_BIND_SERVICE"}, stringsAttr(r, attrNamespaced))
	require.Equal(t, []string{"node-1", "node-2"}, stringsAttr(r, attrHosts))
	require.Equal(t, int64(5), intAttr(r, attrChecks))
	require.Equal(t, "gw-0", mustStr(t, r, attrWriter))
	require.Contains(t, r.Body().Str(), "add: [CHOWN]")
	require.Equal(t, "2026-03-01T10:00:00Z", mustStr(t, r, attrWindowStart))
	require.Equal(t, "2026-03-01T10:00:08Z", mustStr(t, r, attrWindowEnd))

	// The JSON attribute is the whole profile, evidence included.
	p, err := profile.UnmarshalOne(mustStr(t, r, attrJSON))
	require.NoError(t, err)
	var want profile.Profile
	for _, g := range goldenProfiles() {
		if g.ID == p.ID {
			want = g
		}
	}
	require.Equal(t, want.ID, p.ID)
	require.Equal(t, want.Advice, p.Advice)
	require.Equal(t, want.Hosts, p.Hosts)
	require.Len(t, p.Capabilities, len(want.Capabilities))
	for i := range want.Capabilities {
		require.Equal(t, want.Capabilities[i].Evidence[0].Executables, p.Capabilities[i].Evidence[0].Executables)
		require.Equal(t, want.Capabilities[i].Granted, p.Capabilities[i].Granted)
	}
}

func mustStr(t *testing.T, lr plog.LogRecord, key string) string {
	t.Helper()
	v, ok := lr.Attributes().Get(key)
	require.True(t, ok, key)
	return v.Str()
}
