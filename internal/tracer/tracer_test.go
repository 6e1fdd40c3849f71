package tracer

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/capprof/capprof/bpf"
	"github.com/capprof/capprof/internal/caps"
)

// programConfig is what configure writes into the program, read back from
// the collection spec (parsing the ELF needs no privilege).
type programConfig struct {
	ringBuffer, dedup        uint32
	mode, verdict, audited   uint8
	caps                     uint64
	includeHost, pidFilter   uint8
	hostMntns                uint32
	cgroupInclude, cgroupExc uint32
	wakeupBytes              uint64
	nRanges                  uint32
	ranges                   [maxNoauditRanges]AddrRange
	taskBTF, syscallFrom     uint8
	threadSize               uint32
}

func readProgramConfig(t *testing.T, spec *ebpf.CollectionSpec) programConfig {
	t.Helper()
	pc := programConfig{
		ringBuffer: spec.Maps[bpf.CapprofMapEvents].MaxEntries,
		dedup:      spec.Maps[bpf.CapprofMapDedup].MaxEntries,
	}
	for _, v := range []struct {
		name string
		out  any
	}{
		{bpf.CapprofVarCfgMode, &pc.mode},
		{bpf.CapprofVarCfgVerdict, &pc.verdict},
		{bpf.CapprofVarCfgAuditedOnly, &pc.audited},
		{bpf.CapprofVarCfgCaps, &pc.caps},
		{bpf.CapprofVarCfgIncludeHost, &pc.includeHost},
		{bpf.CapprofVarCfgHostMntns, &pc.hostMntns},
		{bpf.CapprofVarCfgCgroupInclude, &pc.cgroupInclude},
		{bpf.CapprofVarCfgCgroupExclude, &pc.cgroupExc},
		{bpf.CapprofVarCfgPidFilter, &pc.pidFilter},
		{bpf.CapprofVarCfgWakeupBytes, &pc.wakeupBytes},
		{bpf.CapprofVarCfgNoauditRanges, &pc.nRanges},
		{bpf.CapprofVarNoauditRanges, &pc.ranges},
		{bpf.CapprofVarCfgTaskBtf, &pc.taskBTF},
		{bpf.CapprofVarCfgSyscallFrom, &pc.syscallFrom},
		{bpf.CapprofVarCfgThreadSize, &pc.threadSize},
	} {
		if err := spec.Variables[v.name].Get(v.out); err != nil {
			t.Fatalf("read %s: %v", v.name, err)
		}
	}
	return pc
}

func TestConfigure(t *testing.T) {
	ranges := []AddrRange{
		{Start: 0xffffffff81a80b10, End: 0xffffffff81a80b50, Class: uint32(auditNo)},
		{Start: 0xffffffff810a7d80, End: 0xffffffff810a7dd0, Class: uint32(auditUnknown)},
	}
	var wantRanges [maxNoauditRanges]AddrRange
	copy(wantRanges[:], ranges)

	defaults := func() programConfig {
		return programConfig{
			ringBuffer: 4 << 20, dedup: 32768, caps: ^uint64(0), includeHost: 1, wakeupBytes: 64 << 10,
			taskBTF: 1, syscallFrom: 1,
		}
	}
	tests := []struct {
		name   string
		method Method
		feats  *Features // nil: a 5.15+ kernel's
		modify func(*Config)
		want   func(*programConfig)
	}{
		{
			name:   "5.10: task fields by probe reads, syscall from the stack top",
			method: Fexit,
			feats:  &Features{Syscall: SyscallStackTop, ThreadSize: 16 << 10},
			modify: func(*Config) {},
			want:   func(p *programConfig) { p.taskBTF, p.syscallFrom, p.threadSize = 0, 2, 16<<10 },
		},
		{
			name:   "no syscall on this kernel",
			method: Kprobe,
			feats:  &Features{TaskBTF: true, Syscall: NoSyscall},
			modify: func(*Config) {},
			want:   func(p *programConfig) { p.syscallFrom = 0 },
		},
		{
			name:   "defaults",
			method: TPBTF,
			modify: func(*Config) {},
			want:   func(*programConfig) {},
		},
		{
			name:   "unique mode",
			method: TPBTF,
			modify: func(c *Config) { c.Mode = Unique },
			want:   func(p *programConfig) { p.mode = 1 },
		},
		{
			name:   "denied only",
			method: TPBTF,
			modify: func(c *Config) { c.Verdict = Denied },
			want:   func(p *programConfig) { p.verdict = 1 },
		},
		{
			name:   "granted only",
			method: TPBTF,
			modify: func(c *Config) { c.Verdict = Granted },
			want:   func(p *programConfig) { p.verdict = 2 },
		},
		{
			name:   "audited only",
			method: TPBTF,
			modify: func(c *Config) { c.Audit = Audited },
			want:   func(p *programConfig) { p.audited = 1 },
		},
		{
			name:   "audited only, read from opts",
			method: Fexit,
			modify: func(c *Config) { c.Audit = Audited },
			want:   func(p *programConfig) { p.audited = 1 },
		},
		{
			name:   "capability filter",
			method: TPBTF,
			modify: func(c *Config) { c.Caps = caps.Set(0).With(34).With(21) },
			want:   func(p *programConfig) { p.caps = 1<<34 | 1<<21 },
		},
		{
			name:   "who filters",
			method: Fexit,
			modify: func(c *Config) {
				c.IncludeHost = false
				c.HostMountNS = 4026531841
				c.CgroupInclude = []string{"/sys/fs/cgroup/a", "/sys/fs/cgroup/b"}
				c.CgroupExclude = []string{"/sys/fs/cgroup/a/c"}
				c.PIDs = []uint32{1, 2, 3}
			},
			want: func(p *programConfig) {
				p.includeHost, p.hostMntns, p.cgroupInclude, p.cgroupExc, p.pidFilter = 0, 4026531841, 2, 1, 1
			},
		},
		{
			name:   "sizes",
			method: Kprobe,
			modify: func(c *Config) { c.RingBufferSize, c.DedupEntries, c.WakeupBytes = 1<<12, 16, 1 },
			want:   func(p *programConfig) { p.ringBuffer, p.dedup, p.wakeupBytes = 1<<12, 16, 1 },
		},
		{
			name:   "tracepoint takes the noaudit ranges",
			method: Tracepoint,
			modify: func(c *Config) { c.NoauditRanges = ranges },
			want:   func(p *programConfig) { p.nRanges, p.ranges = 2, wantRanges },
		},
		{
			name:   "raw tracepoint takes the noaudit ranges",
			method: RawTracepoint,
			modify: func(c *Config) { c.NoauditRanges = ranges },
			want:   func(p *programConfig) { p.nRanges, p.ranges = 2, wantRanges },
		},
		{
			name:   "fexit reads opts and ignores the ranges",
			method: Fexit,
			modify: func(c *Config) { c.NoauditRanges = ranges },
			want:   func(*programConfig) {},
		},
		{
			name:   "kprobe reads opts and ignores the ranges",
			method: Kprobe,
			modify: func(c *Config) { c.NoauditRanges = ranges },
			want:   func(*programConfig) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := bpf.LoadCapprof()
			if err != nil {
				t.Fatalf("load spec: %v", err)
			}
			cfg := DefaultConfig()
			tt.modify(&cfg)
			feats := Features{TaskBTF: true, Syscall: SyscallPtRegs}
			if tt.feats != nil {
				feats = *tt.feats
			}
			if err := configure(spec, cfg, tt.method, feats); err != nil {
				t.Fatalf("configure: %v", err)
			}
			want := defaults()
			tt.want(&want)
			if got := readProgramConfig(t, spec); got != want {
				t.Errorf("program configuration:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestProgramTables checks that every method names programs the objects
// have, so that a renamed C function fails here rather than on a kernel.
func TestProgramTables(t *testing.T) {
	capprof, err := bpf.LoadCapprof()
	if err != nil {
		t.Fatalf("load capprof spec: %v", err)
	}
	for _, m := range Methods {
		t.Run(string(m), func(t *testing.T) {
			names := checkPrograms[m]
			if len(names) == 0 {
				t.Fatalf("no check program for %s", m)
			}
			for _, name := range names {
				if capprof.Programs[name] == nil {
					t.Errorf("check program %s of %s is not in the object", name, m)
				}
			}
		})
	}
	t.Run("process programs", func(t *testing.T) {
		for _, name := range processPrograms {
			if capprof.Programs[name] == nil {
				t.Errorf("process program %s is not in the object", name)
			}
		}
	})
	t.Run("auto is no program", func(t *testing.T) {
		if _, ok := checkPrograms[Auto]; ok {
			t.Errorf("auto has check programs")
		}
	})
}

// TestCapCountsFitTheMap checks CapCounts against the kernel's per-capability
// counter, so that every capability the program counts is read.
func TestCapCountsFitTheMap(t *testing.T) {
	spec, err := bpf.LoadCapprof()
	if err != nil {
		t.Fatalf("load capprof spec: %v", err)
	}
	if got, want := spec.Maps[bpf.CapprofMapNoauditSkipped].MaxEntries, uint32(len(CapCounts{})); got != want {
		t.Errorf("noaudit_skipped holds %d capabilities, CapCounts %d", got, want)
	}
}

func TestAttachCheckUnknownMethod(t *testing.T) {
	tests := []struct {
		name   string
		method Method
	}{
		{name: "auto is resolved before attaching", method: Auto},
		{name: "unknown", method: "uprobe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			links, err := AttachCheck(tt.method, nil, nil)
			if err == nil || !strings.Contains(err.Error(), `unknown method "`+string(tt.method)+`"`) {
				t.Errorf("AttachCheck = %v, want an unknown method error", err)
			}
			if len(links) != 0 {
				t.Errorf("AttachCheck made %d links", len(links))
			}
		})
	}
}
