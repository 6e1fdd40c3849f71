//go:build integration

package tracer

import (
	"errors"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/testenv"
)

// openIn loads and attaches the program with include as its only cgroup
// filter, so that the machine's other processes stay out.
func openIn(t *testing.T, include string) *Tracer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.CgroupInclude = []string{include}
	tr, err := Open(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open tracer: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestUseAfterClose(t *testing.T) {
	for _, tc := range []struct {
		name string
		use  func(*Tracer) error
		want error
	}{
		{"wake", (*Tracer).Wake, ErrClosed},
		// Without a deadline a read on an open tracer would wait for ever.
		{"read", func(tr *Tracer) error { _, err := tr.ReadRaw(time.Time{}); return err }, ErrClosed},
		{"close again", (*Tracer).Close, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := openIn(t, testenv.NewCgroup(t).Path)
			if err := tr.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			if err := tc.use(tr); !errors.Is(err, tc.want) {
				t.Errorf("%s after close = %v, want %v", tc.name, err, tc.want)
			}
		})
	}
}

func TestWakeEndsABlockedRead(t *testing.T) {
	tr := openIn(t, testenv.NewCgroup(t).Path)
	read := make(chan error, 1)
	go func() {
		_, err := tr.ReadRaw(time.Time{})
		read <- err
	}()
	// Wake may come before the read blocks: the flush is kept for it.
	if err := tr.Wake(); err != nil {
		t.Fatalf("wake: %v", err)
	}
	if err := <-read; !errors.Is(err, ErrTimeout) {
		t.Errorf("read = %v, want ErrTimeout", err)
	}
}

// TestMissingCgroupIsFilteredOnceItAppears opens with an include directory
// that does not exist yet, then makes it: its checks are read only then.
func TestMissingCgroupIsFilteredOnceItAppears(t *testing.T) {
	prereq.RequireCommands(t, "setpriv", "dmesg")
	cg := testenv.NewCgroup(t)
	later := cg.Child(t, "later")
	tr := openIn(t, later.Path)
	if got := tr.MissingCgroups(); !slices.Equal(got, []string{later.Path}) {
		t.Fatalf("missing = %q, want %q", got, later.Path)
	}
	if added, err := tr.AddAppearedCgroups(); len(added) != 0 || err != nil {
		t.Fatalf("add before the directory exists = %q, %v", added, err)
	}
	before := runDmesg(t, cg)
	if err := os.Mkdir(later.Path, 0o755); err != nil {
		t.Fatal(err)
	}
	added, err := tr.AddAppearedCgroups()
	if !slices.Equal(added, []string{later.Path}) || err != nil {
		t.Fatalf("add = %q, %v, want %q", added, err, later.Path)
	}
	if got := tr.MissingCgroups(); len(got) != 0 {
		t.Errorf("still missing: %q", got)
	}
	after := runDmesg(t, later)

	pids := checkPIDs(t, tr)
	if pids[before] {
		t.Errorf("a check of pid %d, run before the directory existed, passed the filter", before)
	}
	if !pids[after] {
		t.Errorf("no check of pid %d, run in the directory once it existed; checks of %v", after, pids)
	}
}

// runDmesg runs dmesg as nobody (denied CAP_SYSLOG) in cg and returns its
// pid.
func runDmesg(t *testing.T, cg *testenv.Cgroup) uint32 {
	t.Helper()
	cmd := cg.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "dmesg")
	_ = cmd.Run() // dmesg fails: the denial is the point
	if cmd.Process == nil {
		t.Fatalf("run %s: not started", cmd)
	}
	return uint32(cmd.Process.Pid)
}

// checkPIDs drains the ring buffer and returns the pids of its checks.
func checkPIDs(t *testing.T, tr *Tracer) map[uint32]bool {
	t.Helper()
	pids := map[uint32]bool{}
	drain(t, tr, func(ev Event) {
		if ev.Check != nil {
			pids[ev.Check.Pid] = true
		}
	})
	return pids
}

// drain passes each record waiting in the ring buffer to f, decoded; the
// event is valid only during the call.
func drain(t *testing.T, tr *Tracer, f func(Event)) {
	t.Helper()
	for {
		raw, err := tr.ReadRaw(time.Now())
		if errors.Is(err, ErrTimeout) {
			return
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		ev, err := Decode(aligned(raw))
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		f(ev)
	}
}
