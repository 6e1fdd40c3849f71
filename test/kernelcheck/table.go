package main

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/capprof/capprof/internal/tracer"
)

// tableRow is this kernel's row of the kernels × features table:
// distribution, kernel (major.minor: a Debian point release changes
// nothing here), architecture, what attaches, what auto picks, the methods
// whose scenarios all passed, how the syscall and the task are read, and
// whether new cgroups' paths are learned. The verdict column makes a row of
// a failed run stand out.
func (k *checker) tableRow(label string, ok bool) string {
	var uts unix.Utsname
	_ = unix.Uname(&uts) // cannot fail on Linux
	arch := unix.ByteSliceToString(uts.Machine[:])
	feats, _ := tracer.ProbeFeatures() // a failed probe shows as the feature's absence
	syscall := map[tracer.SyscallSource]string{
		tracer.SyscallPtRegs:   "bpf_task_pt_regs",
		tracer.SyscallStackTop: "top of the kernel stack",
		tracer.NoSyscall:       "not on this kernel",
	}[feats.Syscall]
	task := "CO-RE probe reads"
	if feats.TaskBTF {
		task = "BTF pointer"
	}
	cgroups := "not on this kernel"
	if k.learnsCgroups {
		cgroups = "cgroup_mkdir"
	}
	verdict := "pass"
	if !ok {
		verdict = "FAIL"
	}
	cells := []string{label, majorMinor(k.release), arch, methodList(k.attaches), string(k.chosen), methodList(k.passed),
		syscall, task, cgroups, verdict}
	return "TABLE | " + strings.Join(cells, " | ") + " |"
}

func methodList(ms []tracer.Method) string {
	if len(ms) == 0 {
		return "none"
	}
	return joinMethods(ms, ", ")
}

// majorMinor cuts a uname release ("5.10.0-46-amd64") to "5.10".
func majorMinor(release string) string {
	fields := strings.SplitN(release, ".", 3)
	if len(fields) < 2 {
		return release
	}
	minor, _, _ := strings.Cut(fields[1], "-")
	return fmt.Sprintf("%s.%s", fields[0], minor)
}
