package checktest

import (
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
)

// Checks returns a host check and two checks of one container: denied and
// audited with a known process, denied NOAUDIT counted 3 times, granted in
// a child user namespace outside a syscall.
func Checks() []check.Check {
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	dmesg := proc.Info{PID: 4242, PPID: 4200, ExecutablePath: "/usr/bin/dmesg", Args: []string{"dmesg"}, WorkingDirectory: "/root", UID: 65534, EUID: 65534, StartTime: at.Add(-time.Second), ExecID: "bm9kZTo0MjQy", ParentExecID: "bm9kZTo0MjAw", ParentExecutablePath: "/usr/bin/bash", Context: &proc.Context{Namespaces: host, HostNamespaces: 1<<proc.NumNamespaceKinds - 1, LoginUID: 1000, VPID: 4242, Flags: proc.FlagExec, Parent: proc.Parent{Args: []string{"-bash"}, WorkingDirectory: "/root", LoginUID: 1000, StartTime: at.Add(-time.Hour), Flags: proc.FlagProcFS}}}
	// What the process cache knows of pid 77 are the kernel's exec event's
	// fields alone: its executable's path was not read.
	ctrProcess := proc.Info{PID: 77, Context: &proc.Context{Namespaces: ctrNamespaces, HostNamespaces: 1<<proc.NSUser | 1<<proc.NSTime | 1<<proc.NSTimeForChildren, LoginUID: proc.UnsetLoginUID, VPID: 1, PIDNamespaceStart: at.Add(-time.Minute), Flags: proc.FlagExec}}
	ctr := cgroup.Container{
		ID:      "0f9e1d2c3b4a59687766554433221100ffeeddccbbaa99887766554433221100",
		Runtime: "containerd",
		PodUID:  "8d3f7a9c-1b2e-4c5d-9e8f-0a1b2c3d4e5f",
	}
	cgroupPath := "/kubepods/besteffort/pod" + ctr.PodUID + "/" + ctr.ID
	return []check.Check{
		{
			Time: at, Cap: 34, Denied: true, Audit: check.Audited, UID: 65534, EUID: 65534, Count: 1,
			UserNS:  check.UserNamespace{Inode: 4026531837, IsHost: true},
			Syscall: 103, SyscallName: "syslog", PID: 4242, TID: 4242, CgroupID: 1, CgroupPath: "/",
			Process: dmesg, HostName: "node-1",
		},
		{
			Time: at.Add(time.Millisecond), Cap: 21, Denied: true, Audit: check.NotAudited, Count: 3,
			Effective: caps.Set(0).With(10).With(0),
			UserNS:    check.UserNamespace{Inode: 4026531837, IsHost: true},
			Syscall:   9, SyscallName: "mmap", PID: 77, TID: 78, CgroupID: 9001,
			CgroupPath: cgroupPath, Process: ctrProcess,
			Container: ctr, HostName: "node-1",
		},
		{
			Time: at.Add(2 * time.Millisecond), Cap: 10, Denied: false, Audit: check.Audited, Count: 1,
			Effective: caps.Set(0).With(10).With(0),
			UserNS:    check.UserNamespace{Level: 1, Inode: 4026532000, OwnerUID: 1000, OwnerGID: 1000},
			Syscall:   -1, PID: 77, TID: 77, CgroupID: 9001, CgroupPath: cgroupPath, Process: ctrProcess,
			Container: ctr, HostName: "node-1",
		},
	}
}

var (
	host = proc.Namespaces{4026531838, 4026531839, 4026531841, 4026531836, 4026531836,
		4026531840, 4026531834, 4026531834, 4026531835, 4026531837}
	ctrNamespaces = proc.Namespaces{4026532501, 4026532502, 4026532500, 4026532503, 4026532503,
		4026532505, 4026531834, 4026531834, 4026532506, 4026531837}
)

// Batch returns n checks, Checks repeated: a batch as the controller
// writes it, for benchmarks.
func Batch(n int) []check.Check {
	checks := make([]check.Check, 0, n+3)
	for len(checks) < n {
		checks = append(checks, Checks()...)
	}
	return checks[:n]
}
