package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// runChild is the workload side: this binary re-executed, usually as uid
// 65534. With wait it first reads a line from stdin, so that the checker
// can start recording on its pid before it does anything.
func runChild(name string, wait bool, n, mmaps int) error {
	if wait {
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			return fmt.Errorf("wait for release: %w", err)
		}
	}
	switch name {
	case "syslog":
		return readKernelLog()
	case "noaudit":
		return errors.Join(commitMemory(mmaps), seccompWithoutNoNewPrivs())
	case "userns":
		return inUserNamespace()
	case "userns-inner":
		return hostnameChecks()
	case "spawn-syslog":
		return spawnSyslog(n)
	case "count":
		return errors.Join(commitMemory(mmaps), spawnSyslog(n))
	}
	return fmt.Errorf("unknown workload %q", name)
}

// readKernelLog calls syslog(SYSLOG_ACTION_READ_ALL), which needs
// CAP_SYSLOG when dmesg_restrict is 1: denied for uid 65534, granted for root.
func readKernelLog() error {
	buf := make([]byte, 4096)
	_, err := unix.Klogctl(unix.SYSLOG_ACTION_READ_ALL, buf)
	if os.Geteuid() == 0 {
		if err != nil {
			return fmt.Errorf("syslog as root: %w", err)
		}
		return nil
	}
	if !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("syslog as uid %d: want EPERM, got %v", os.Geteuid(), err)
	}
	return nil
}

// commitMemory maps n private writable MiB, one at a time, and touches
// every page: each mapping is a memory commit, which checks CAP_SYS_ADMIN
// with CAP_OPT_NOAUDIT for a non-root process.
func commitMemory(n int) error {
	const size = 1 << 20
	page := os.Getpagesize()
	for range n {
		b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			return fmt.Errorf("mmap: %w", err)
		}
		for i := 0; i < size; i += page {
			b[i] = 1
		}
		if err := unix.Munmap(b); err != nil {
			return fmt.Errorf("munmap: %w", err)
		}
	}
	return nil
}

// seccompWithoutNoNewPrivs installs a seccomp filter without no_new_privs,
// which a non-root process may not: seccomp_prepare_filter
// (kernel/seccomp.c) asks ns_capable_noaudit(CAP_SYS_ADMIN), a NOAUDIT
// check that reaches cap_capable through the LSM hook, so it is never
// inlined away (unlike cap_vm_enough_memory's).
func seccompWithoutNoNewPrivs() error {
	allow := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}}
	prog := unix.SockFprog{Len: uint16(len(allow)), Filter: &allow[0]}
	err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0)
	if os.Geteuid() != 0 && !errors.Is(err, unix.EACCES) {
		return fmt.Errorf("seccomp filter as uid %d without no_new_privs: want EACCES, got %v", os.Geteuid(), err)
	}
	return nil
}

// inUserNamespace runs the userns-inner workload in a new user namespace
// where it is root (uid 0 mapped to ours): it holds every capability there,
// and none in the initial namespace.
func inUserNamespace() error {
	cmd := exec.Command(self(), "-child", "userns-inner")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("start in a new user namespace: %w", err)
	}
	return nil
}

// hostnameChecks, as root of a user namespace of level 1: sethostname in
// the initial UTS namespace is a CAP_SYS_ADMIN check against the initial
// user namespace (denied); unshare(CLONE_NEWUTS) and sethostname in the new
// UTS namespace are CAP_SYS_ADMIN checks against the user namespace it owns
// (granted).
func hostnameChecks() error {
	// Namespaces are per thread.
	runtime.LockOSThread()
	name := []byte("kernelcheck")
	if err := unix.Sethostname(name); !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("sethostname in the initial UTS namespace: want EPERM, got %v", err)
	}
	if err := unix.Unshare(unix.CLONE_NEWUTS); err != nil {
		return fmt.Errorf("unshare UTS namespace: %w", err)
	}
	if err := unix.Sethostname(name); err != nil {
		return fmt.Errorf("sethostname in an owned UTS namespace: %w", err)
	}
	return nil
}

// spawnSyslog runs n syslog workloads one after the other, each a new
// process of this binary (with this process's credentials).
func spawnSyslog(n int) error {
	exe := self()
	for i := range n {
		cmd := exec.Command(exe, "-child", "syslog")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("syslog workload %d of %d: %w", i+1, n, err)
		}
	}
	return nil
}

// self is this binary's path, as the exec events will report it.
func self() string {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return "/proc/self/exe"
	}
	return exe
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
