package tracer

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"

	"github.com/capprof/capprof/bpf"
)

// The floor: the oldest kernel the program loads on. 5.10 has every helper
// and program type the handler cannot do without (BPF ring buffer 5.8,
// bpf_ktime_get_boot_ns 5.8, tp_btf and fexit 5.5); what later kernels add
// is probed (Features).
const (
	floorMajor = 5
	floorMinor = 10
)

// ErrBelowFloor means the kernel is older than the floor.
var ErrBelowFloor = fmt.Errorf("capprof needs Linux %d.%d or later with BTF", floorMajor, floorMinor)

// CheckFloor reports, in one line, the missing piece when this kernel is
// below capprof's floor: Linux 5.10 with BTF at /sys/kernel/btf/vmlinux.
func CheckFloor() error {
	release, err := kernelRelease()
	if err != nil {
		return err
	}
	if err := checkRelease(release); err != nil {
		return err
	}
	if _, err := btf.LoadKernelSpec(); err != nil {
		return fmt.Errorf("%w: %w: %w", ErrBelowFloor, ErrNoBTF, err)
	}
	return nil
}

// checkRelease compares a uname release ("5.10.0-46-amd64") with the floor.
func checkRelease(release string) error {
	major, minor, err := parseRelease(release)
	if err != nil {
		return err
	}
	if major < floorMajor || (major == floorMajor && minor < floorMinor) {
		return fmt.Errorf("%w: this kernel is %s", ErrBelowFloor, release)
	}
	return nil
}

func parseRelease(release string) (major, minor int, err error) {
	fields := strings.SplitN(release, ".", 3)
	if len(fields) >= 2 {
		major, err = strconv.Atoi(fields[0])
		if err == nil {
			// The minor may run into a suffix: "5.15-rc1".
			digits := fields[1]
			if i := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
				digits = digits[:i]
			}
			minor, err = strconv.Atoi(digits)
		}
		if err == nil {
			return major, minor, nil
		}
	}
	return 0, 0, fmt.Errorf("parse kernel release %q: want MAJOR.MINOR", release)
}

// SyscallSource says where checks' syscall numbers come from; its values
// are enum syscall_source's.
type SyscallSource uint8

const (
	// NoSyscall: not on this kernel; checks carry no syscall.
	NoSyscall = SyscallSource(bpf.CapprofSyscallSourceSYSCALL_NONE)
	// SyscallPtRegs: bpf_task_pt_regs (Linux 5.15+).
	SyscallPtRegs = SyscallSource(bpf.CapprofSyscallSourceSYSCALL_PT_REGS)
	// SyscallStackTop: the user registers at the top of the task's kernel
	// stack, where task_pt_regs() finds them, for kernels before 5.15.
	SyscallStackTop = SyscallSource(bpf.CapprofSyscallSourceSYSCALL_STACK_TOP)
)

// Features are what the running kernel lets the program read, probed once
// before load and written into its constants.
type Features struct {
	// TaskBTF: bpf_get_current_task_btf (5.11+), the running task as a
	// typed pointer; without it the task's fields are read with CO-RE
	// probe reads, which cost more and give the same values.
	TaskBTF bool
	Syscall SyscallSource
	// ThreadSize is the kernel stack's size (THREAD_SIZE), for SyscallStackTop.
	ThreadSize uint32
}

// ProbeFeatures probes the running kernel. A probe that fails for another
// reason than the helper's absence is returned with the features as if the
// helper were absent, so that recording degrades instead of failing.
func ProbeFeatures() (Features, error) {
	var f Features
	var errs []error
	have := func(fn asm.BuiltinFunc) bool {
		// Every tracing program type has the same helpers as kprobe's
		// (bpf_tracing_func_proto), and kprobe's probe needs no target.
		err := features.HaveProgramHelper(ebpf.Kprobe, fn)
		if err != nil && !errors.Is(err, ebpf.ErrNotSupported) {
			errs = append(errs, fmt.Errorf("probe helper %s: %w", fn, err))
		}
		return err == nil
	}
	f.TaskBTF = have(asm.FnGetCurrentTaskBtf)
	// bpf_task_pt_regs takes a typed task.
	if f.TaskBTF && have(asm.FnTaskPtRegs) {
		f.Syscall = SyscallPtRegs
	} else if size, err := threadSize(); err != nil {
		errs = append(errs, err)
	} else {
		f.Syscall, f.ThreadSize = SyscallStackTop, size
	}
	return f, errors.Join(errs...)
}

// threadSize is THREAD_SIZE on x86_64 and arm64: 16 KiB (x86_64:
// PAGE_SIZE << 2; arm64: 1 << 14), doubled by KASAN (KASAN_STACK_ORDER,
// KASAN_THREAD_SHIFT), and on arm64 at least a page with VMAP_STACK, which
// Debian's kernels have.
func threadSize() (uint32, error) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return 0, fmt.Errorf("kernel stack size: %w", err)
	}
	size := uint32(16 << 10)
	var fn *btf.Func
	if spec.TypeByName("kasan_report", &fn) == nil {
		size *= 2
	}
	return max(size, uint32(os.Getpagesize())), nil
}

// Findings says what each feature gives on this kernel, as capprof doctor
// prints it: a feature the kernel cannot give is "not on this kernel",
// with what stays empty.
func (f Features) Findings() []Finding {
	task := Finding{"task fields", true, "bpf_get_current_task_btf (5.11+): plain loads"}
	if !f.TaskBTF {
		task.Detail = "bpf_get_current_task and CO-RE probe reads (bpf_get_current_task_btf is 5.11+)"
	}
	sys := Finding{"syscall", true, "bpf_task_pt_regs (5.15+)"}
	switch f.Syscall {
	case SyscallStackTop:
		sys.Detail = fmt.Sprintf("user registers at the top of the kernel stack (THREAD_SIZE %d; bpf_task_pt_regs is 5.15+)", f.ThreadSize)
	case NoSyscall:
		sys = Finding{"syscall", false, "not on this kernel: linux.syscall.id and linux.syscall.name stay empty"}
	}
	return []Finding{task, sys}
}
