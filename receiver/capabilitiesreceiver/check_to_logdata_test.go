package capabilitiesreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/stretchr/testify/require"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
)

// testChecks are a host check and two checks of one container.
func testChecks() []check.Check {
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	dmesg := proc.Info{
		PID: 4242, PPID: 4200, ExecutablePath: "/usr/bin/dmesg", Args: []string{"dmesg"},
		WorkingDirectory: "/root", UID: 65534, EUID: 65534, StartTime: at.Add(-time.Second),
		ExecID: "bm9kZTo0MjQy", ParentExecID: "bm9kZTo0MjAw", ParentExecutablePath: "/usr/bin/bash",
	}
	ctr := cgroup.Container{
		ID:      "0f9e1d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100",
		Runtime: "containerd",
		PodUID:  "8d3f7a9c-1b2e-4c5d-9e8f-0a1b2c3d4e5f",
	}
	return []check.Check{
		{
			Time: at, Cap: 34, Denied: true, Audit: check.Audited, UID: 65534, EUID: 65534, Count: 1,
			UserNS:  check.UserNamespace{Inode: 4026531837, IsHost: true},
			Syscall: 103, SyscallName: "syslog", PID: 4242, TID: 4242, CgroupID: 1, CgroupPath: "/",
			Process: dmesg, HostName: "node-1",
		},
		{
			Time: at.Add(time.Millisecond), Cap: 21, Denied: true, Audit: check.NotAudited, Count: 3,
			UserNS:  check.UserNamespace{Inode: 4026531837, IsHost: true},
			Syscall: 9, SyscallName: "mmap", PID: 77, TID: 78, CgroupID: 9001,
			CgroupPath: "/kubepods/besteffort/pod8d3f7a9c-1b2e-4c5d-9e8f-0a1b2c3d4e5f/" + ctr.ID,
			Container:  ctr, HostName: "node-1",
		},
		{
			Time: at.Add(2 * time.Millisecond), Cap: 10, Denied: false, Audit: check.Audited, Count: 1,
			Effective: caps.Set(0).With(10).With(0),
			UserNS:    check.UserNamespace{Level: 1, Inode: 4026532000, OwnerUID: 1000, OwnerGID: 1000},
			Syscall:   -1, PID: 77, TID: 77, CgroupID: 9001, Container: ctr, HostName: "node-1",
		},
	}
}

func TestChecksToLogsGolden(t *testing.T) {
	var scratch []check.Attr
	got := checksToLogs(testChecks(), "v1.2.3", &scratch)
	require.Equal(t, 2, got.ResourceLogs().Len(), "one ResourceLogs for the host, one for the container")
	require.Equal(t, 3, got.LogRecordCount())

	path := filepath.Join("testdata", "checks.yaml")
	// golden.WriteLogs(t, path, got) // uncomment to rewrite the golden file
	want, err := golden.ReadLogs(path)
	require.NoError(t, err)
	require.NoError(t, plogtest.CompareLogs(want, got))
}

func BenchmarkChecksToLogs(b *testing.B) {
	checks := make([]check.Check, 0, 1000)
	for len(checks) < cap(checks) {
		checks = append(checks, testChecks()...)
	}
	checks = checks[:1000]
	var scratch []check.Attr
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = checksToLogs(checks, "v1", &scratch)
	}
	b.ReportMetric(float64(b.N*len(checks))/b.Elapsed().Seconds(), "records/s")
}
