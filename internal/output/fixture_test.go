package output

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const (
	testContainerID = "3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a"
	testPodUID      = "0b6d3a4e-9f21-4c8b-a7e5-2d1f0c9b8a76"
)

// fixture is the batch every golden test writes: a denied, audited check on
// the host; a granted NOAUDIT check counted 5 times in a Kubernetes
// container; and a check of the same container whose process is unknown.
// Times are in UTC so the pretty golden file does not depend on TZ.
func fixture() []check.Check {
	base := time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)
	return []check.Check{
		{
			Time:        base,
			Cap:         21, // CAP_SYS_ADMIN
			Denied:      true,
			Audit:       check.Audited,
			Effective:   caps.Set(0).With(12).With(13),
			UID:         1000,
			EUID:        1000,
			Count:       1,
			UserNS:      check.UserNamespace{Level: 0, Inode: 4026531837, IsHost: true},
			Syscall:     165,
			SyscallName: "mount",
			PID:         4242,
			TID:         4242,
			CgroupID:    9876,
			CgroupPath:  "/user.slice/user-1000.slice/session-3.scope",
			Process: proc.Info{
				PID:                  4242,
				PPID:                 4100,
				ExecutablePath:       "/usr/bin/mount",
				Args:                 []string{"mount", "-t", "tmpfs", "a \"b\" & c", "/mnt"},
				WorkingDirectory:     "/home/user",
				UID:                  1000,
				EUID:                 1000,
				StartTime:            base.Add(-1500 * time.Millisecond),
				ExecID:               "bm9kZS0xOjEyMzQ1OjQyNDI",
				ParentExecID:         "bm9kZS0xOjEwMDAwOjQxMDA",
				ParentExecutablePath: "/usr/bin/bash",
			},
			HostName: "node-1",
		},
		{
			Time:      base.Add(250 * time.Millisecond),
			Cap:       21,
			Audit:     check.NotAudited,
			Effective: caps.Set(0).With(21),
			Count:     5,
			UserNS:    check.UserNamespace{Level: 1, Inode: 4026532500, OwnerUID: 100000, OwnerGID: 100000},
			Syscall:   9,
			PID:       31337,
			TID:       31338,
			CgroupID:  5555,
			Process: proc.Info{
				PID:            31337,
				PPID:           31300,
				ExecutablePath: "/usr/sbin/nginx",
				Args:           []string{"nginx", "-g", "daemon off;"},
			},
			Container: cgroup.Container{ID: testContainerID, Runtime: cgroup.RuntimeContainerd, PodUID: testPodUID},
			HostName:  "node-1",
		},
		{
			Time:      base.Add(time.Second),
			Cap:       12, // CAP_NET_ADMIN
			Count:     1,
			UserNS:    check.UserNamespace{Level: 1, Inode: 4026532500, OwnerUID: 100000, OwnerGID: 100000},
			Syscall:   -1,
			PID:       31400,
			TID:       31400,
			CgroupID:  5555,
			Container: cgroup.Container{ID: testContainerID, Runtime: cgroup.RuntimeContainerd, PodUID: testPodUID},
			HostName:  "node-1",
		},
	}
}

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}
