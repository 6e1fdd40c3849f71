package tracer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"

	"github.com/capprof/capprof/internal/caps"
)

// ErrPrivilege means the process lacks the capabilities to load BPF.
var ErrPrivilege = errors.New("insufficient privilege: run as root, or with CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE (or CAP_SYS_ADMIN)")

const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// Finding is one line of what the kernel supports.
type Finding struct {
	Name   string
	OK     bool
	Detail string
}

// CheckPrivileges reports whether this process may load and attach the
// program: CAP_BPF with CAP_PERFMON (Linux 5.8+), or CAP_SYS_ADMIN.
func CheckPrivileges() (caps.Set, error) {
	eff, err := effectiveCaps("/proc/self/status")
	if err != nil {
		return 0, err
	}
	if eff.Has(capSysAdmin) || (eff.Has(capBPF) && eff.Has(capPerfmon)) {
		return eff, nil
	}
	return eff, ErrPrivilege
}

func effectiveCaps(statusPath string) (caps.Set, error) {
	f, err := os.Open(statusPath)
	if err != nil {
		return 0, fmt.Errorf("read capabilities: %w", err)
	}
	defer f.Close()
	return parseCapEff(f)
}

func parseCapEff(r io.Reader) (caps.Set, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("parse CapEff %q: %w", v, err)
			}
			return caps.Set(n), nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read capabilities: %w", err)
	}
	return 0, errors.New("read capabilities: no CapEff line")
}

// Environment reports the kernel facilities the program depends on, and
// what it can read on this kernel (Features).
func Environment() []Finding {
	var out []Finding
	if release, err := kernelRelease(); err == nil {
		out = append(out, Finding{"kernel", true, release})
	}
	out = append(out, finding("floor", CheckFloor(), fmt.Sprintf("Linux %d.%d+ with BTF", floorMajor, floorMinor)))
	eff, err := CheckPrivileges()
	out = append(out, finding("privileges", err, fmt.Sprintf("uid %d, effective %s", os.Geteuid(), privilegeNames(eff))))
	_, err = btf.LoadKernelSpec()
	out = append(out, finding("btf", err, "/sys/kernel/btf/vmlinux"))
	// Without privilege every probe fails: what the kernel has is unknown.
	if feats, err := ProbeFeatures(); err != nil {
		out = append(out, finding("feature probes", err, ""))
	} else {
		out = append(out, feats.Findings()...)
	}
	out = append(out, finding("ring buffer", features.HaveMapType(ebpf.RingBuf), "BPF_MAP_TYPE_RINGBUF (5.8+)"))
	out = append(out, finding("cap_capable tracepoint", tracepointExists(), "capability:cap_capable (6.14+)"))
	out = append(out, finding("cgroup_mkdir tracepoint", cgroupMkdirExists(), "cgroup:cgroup_mkdir: new cgroups' paths"))
	ranges, err := NoauditRanges()
	if err == nil && len(ranges) == 0 {
		err = errors.New("no known NOAUDIT caller found")
	}
	out = append(out, finding("kallsyms", err, fmt.Sprintf("%d NOAUDIT caller ranges for the tracepoint's audit flag", len(ranges))))
	out = append(out, finding("bpffs", bpffsMounted("/sys/fs/bpf"), "/sys/fs/bpf (not needed by record)"))
	return out
}

// ProbeMethod loads and attaches m with a minimal configuration, then
// detaches: the only reliable answer to "does this method work here".
func ProbeMethod(m Method) error {
	cfg := DefaultConfig()
	cfg.Method = m
	cfg.RingBufferSize = 4096 * 4
	cfg.DedupEntries = 16
	t, err := Open(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	return t.Close()
}

func tracepointExists() error {
	ok, err := btfTracepoint("cap_capable")
	if err == nil && !ok {
		err = errors.New("absent (kernel before 6.14): use fexit or kprobe")
	}
	return err
}

// cgroupMkdirExists reports whether the cgroup:cgroup_mkdir tracepoint's
// BTF is there for the tp_btf program that learns new cgroups' paths.
func cgroupMkdirExists() error {
	ok, err := btfTracepoint("cgroup_mkdir")
	if err == nil && !ok {
		err = errors.New("absent: checks of containers removed before they are read lose their container")
	}
	return err
}

// btfTracepoint reports whether the kernel's BTF describes tracepoint name,
// which a tp_btf program on it needs to load.
func btfTracepoint(name string) (bool, error) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return false, fmt.Errorf("no kernel BTF to look in: %w", err)
	}
	var fn *btf.Typedef
	return spec.TypeByName("btf_trace_"+name, &fn) == nil, nil
}

func finding(name string, err error, detail string) Finding {
	if err != nil {
		return Finding{name, false, err.Error()}
	}
	return Finding{name, true, detail}
}

func privilegeNames(eff caps.Set) string {
	var names []string
	for _, id := range []int{capSysAdmin, capPerfmon, capBPF} {
		if eff.Has(id) {
			names = append(names, caps.Name(id))
		}
	}
	if len(names) == 0 {
		return "none of CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF"
	}
	return strings.Join(names, " ")
}
