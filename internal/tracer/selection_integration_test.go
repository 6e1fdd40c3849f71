//go:build integration

package tracer

import (
	"errors"
	"log/slog"
	"os"
	"syscall"
	"testing"

	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/testenv"
)

// TestLiveSelection switches the selection on and off and changes its ids
// while the program runs: a selected pod's container (the id's child) and a
// selected container (the id itself) are recorded, an unselected sibling's
// checks are dropped and counted, and nothing is reloaded. It runs with the
// task read as a BTF pointer and with CO-RE probe reads, as on 5.10.
func TestLiveSelection(t *testing.T) {
	prereq.RequireCommands(t, "setpriv", "dmesg")
	for _, tc := range []struct {
		name   string
		method Method
		feats  Features
	}{
		{"tp_btf, typed task", TPBTF, Features{TaskBTF: true, Syscall: SyscallPtRegs}},
		{"raw_tracepoint, probe reads as on 5.10", RawTracepoint, Features{Syscall: NoSyscall}},
	} {
		t.Run(tc.name, func(t *testing.T) { testLiveSelection(t, tc.method, tc.feats) })
	}
}

func testLiveSelection(t *testing.T, method Method, feats Features) {
	cg := testenv.NewCgroup(t)
	pod := mkdirCgroup(t, cg.Child(t, "pod"))
	ctr := mkdirCgroup(t, pod.Child(t, "ctr"))
	leaf := mkdirCgroup(t, cg.Child(t, "leaf"))
	other := mkdirCgroup(t, cg.Child(t, "other"))
	cfg := DefaultConfig()
	cfg.Method = method
	cfg.CgroupInclude = []string{cg.Path}
	tr, err := openWith(cfg, feats, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open tracer: %v", err)
	}
	t.Cleanup(func() { tr.Close() })

	recorded := func(t *testing.T, want map[*testenv.Cgroup]bool) {
		t.Helper()
		ran := map[uint32]*testenv.Cgroup{}
		for c := range want {
			ran[runDmesg(t, c)] = c
		}
		pids := checkPIDs(t, tr)
		for pid, c := range ran {
			if pids[pid] != want[c] {
				t.Errorf("checks of dmesg in %s recorded: %v, want %v", c.Rel, pids[pid], want[c])
			}
		}
	}
	syslog := func() uint64 {
		n, err := tr.UnselectedSkipped()
		if err != nil {
			t.Fatalf("read unselected counter: %v", err)
		}
		return n[capSyslog]
	}

	recorded(t, map[*testenv.Cgroup]bool{ctr: true, leaf: true, other: true})
	if n := syslog(); n != 0 {
		t.Fatalf("selection off: %d CAP_SYSLOG checks counted unselected, want 0", n)
	}

	for _, id := range []uint64{cgroupID(t, pod), cgroupID(t, leaf)} {
		if err := tr.SelectCgroup(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.SetSelectionActive(true); err != nil {
		t.Fatal(err)
	}
	recorded(t, map[*testenv.Cgroup]bool{ctr: true, leaf: true, other: false})
	// busybox and util-linux dmesg both try syslog(2) at least once.
	if n := syslog(); n == 0 {
		t.Errorf("the unselected dmesg's CAP_SYSLOG check was not counted")
	}

	if err := tr.UnselectCgroup(cgroupID(t, pod)); err != nil {
		t.Fatal(err)
	}
	if err := tr.UnselectCgroup(cgroupID(t, pod)); err != nil {
		t.Errorf("unselect twice: %v", err)
	}
	before := syslog()
	recorded(t, map[*testenv.Cgroup]bool{ctr: false, leaf: true})
	if syslog() <= before {
		t.Errorf("the unselected pod's checks were not counted")
	}

	if err := tr.SetSelectionActive(false); err != nil {
		t.Fatal(err)
	}
	recorded(t, map[*testenv.Cgroup]bool{ctr: true, leaf: true, other: true})
}

func TestSelectionFull(t *testing.T) {
	cfg := DefaultConfig()
	cfg.CgroupInclude = []string{testenv.NewCgroup(t).Path}
	cfg.SelectedCgroups = 2
	tr, err := Open(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open tracer: %v", err)
	}
	defer tr.Close()
	for id := uint64(1); id <= 2; id++ {
		if err := tr.SelectCgroup(id); err != nil {
			t.Fatalf("select %d: %v", id, err)
		}
	}
	if err := tr.SelectCgroup(3); !errors.Is(err, ErrSelectionFull) {
		t.Errorf("select past the map's size = %v, want ErrSelectionFull", err)
	}
	if err := tr.SelectCgroup(2); err != nil {
		t.Errorf("select an id already there in a full map: %v", err)
	}
}

// capSyslog is CAP_SYSLOG, which dmesg as nobody is denied.
const capSyslog = 34

func mkdirCgroup(t *testing.T, c *testenv.Cgroup) *testenv.Cgroup {
	t.Helper()
	if err := os.Mkdir(c.Path, 0o755); err != nil {
		t.Fatal(err)
	}
	return c
}

// cgroupID is the directory's inode: the id bpf_get_current_cgroup_id
// returns for a task in it.
func cgroupID(t *testing.T, c *testenv.Cgroup) uint64 {
	t.Helper()
	fi, err := os.Stat(c.Path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}
