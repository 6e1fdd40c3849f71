//go:build integration

package tracer

import (
	"log/slog"
	"slices"
	"testing"

	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/testenv"
)

// checkFacts are a check event's fields that do not change from one run of
// the same workload to the next.
type checkFacts struct {
	cap, denied, foreignCred, mntNsIsHost uint8
	uid, euid, nsLevel, nsInum            uint32
	syscall                               int32
	exeIno, effective                     uint64
	comm                                  string
}

// TestOlderKernelsReadTheSameFacts loads the program as this kernel's
// features allow and as older kernels' do (the switches the verifier
// prunes), runs the same denied dmesg under each, and wants the same check:
// the older ways read the same values, and a kernel without a syscall
// source leaves only the syscall empty.
func TestOlderKernelsReadTheSameFacts(t *testing.T) {
	prereq.RequireRoot(t)
	prereq.RequireCommands(t, "setpriv", "dmesg")
	here, err := ProbeFeatures()
	if err != nil {
		t.Fatalf("probe features: %v", err)
	}
	size, err := threadSize()
	if err != nil {
		t.Fatalf("thread size: %v", err)
	}
	want := dmesgFacts(t, here)
	for _, c := range want {
		if c.syscall < 0 || c.comm != "dmesg" || c.exeIno == 0 {
			t.Fatalf("with this kernel's features (%+v): %+v, want dmesg's exe and a syscall", here, want)
		}
	}
	for _, tt := range []struct {
		name  string
		feats Features
	}{
		{"5.10: untyped task, stack top", Features{Syscall: SyscallStackTop, ThreadSize: size}},
		{"5.11-5.14: typed task, stack top", Features{TaskBTF: true, Syscall: SyscallStackTop, ThreadSize: size}},
		{"no syscall source", Features{Syscall: NoSyscall}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := slices.Clone(want)
			for i := range w {
				if tt.feats.Syscall == NoSyscall {
					w[i].syscall = -1
				}
			}
			if got := dmesgFacts(t, tt.feats); !slices.Equal(got, w) {
				t.Errorf("check with %+v:\n got %+v\nwant %+v", tt.feats, got, w)
			}
		})
	}
}

// dmesgFacts records a denied dmesg in a cgroup of its own with the program
// loaded for feats and returns its CAP_SYSLOG checks (opening /dev/kmsg,
// then syslog), in order.
func dmesgFacts(t *testing.T, feats Features) []checkFacts {
	t.Helper()
	cg := testenv.NewCgroup(t)
	cfg := DefaultConfig()
	cfg.CgroupInclude = []string{cg.Path}
	tr, err := openWith(cfg, feats, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open with %+v: %v", feats, err)
	}
	defer tr.Close()
	pid := runDmesg(t, cg)
	var found []checkFacts
	drain(t, tr, func(ev Event) {
		c := ev.Check
		if c == nil || c.Pid != pid || c.Cap != 34 /* CAP_SYSLOG */ {
			return
		}
		found = append(found, checkFacts{
			cap: c.Cap, denied: c.Denied, foreignCred: c.ForeignCred, mntNsIsHost: c.MntNsIsHost,
			uid: c.Uid, euid: c.Euid, nsLevel: c.NsLevel, nsInum: c.NsInum, syscall: c.Syscall,
			exeIno: c.ExeIno, effective: c.Effective, comm: string(Comm(c)),
		})
	})
	if len(found) == 0 {
		t.Fatalf("with %+v: no CAP_SYSLOG check of dmesg (pid %d)", feats, pid)
	}
	return found
}
