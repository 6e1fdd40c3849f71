//go:build integration

package controller_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/testenv"
)

// has reports whether the sink got a CAP_SYSLOG check of pid.
func (c *collector) has(pid int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.ContainsFunc(c.checks, func(chk check.Check) bool {
		return chk.Cap == capSyslog && chk.PID == uint32(pid)
	})
}

// running starts a recording in cg and returns once Run is known to run:
// a first check went through it.
func running(t *testing.T, cg *testenv.Cgroup) *recording {
	t.Helper()
	prereq.RequireCommands(t, "setpriv", "dmesg")
	rec := start(t, configIn(cg))
	pid := runIn(t, cg, "setpriv", asNobody("dmesg")...)
	waitFor(t, "the first check", func() bool { return rec.sink.has(pid) })
	return rec
}

func TestCloseBeforeRun(t *testing.T) {
	prereq.RequireRoot(t)
	ctl, err := controller.New(configIn(testenv.NewCgroup(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	sink := &collector{}
	if err := ctl.Run(context.Background(), sink); !errors.Is(err, controller.ErrClosed) {
		t.Errorf("run after close = %v, want ErrClosed", err)
	}
	if len(sink.checks) != 0 {
		t.Errorf("run after close wrote %d checks", len(sink.checks))
	}
}

// TestCloseDuringRun closes, from one goroutine or two at once, while Run
// runs: Run says it was closed, and a check made just before Close is in
// its last batch.
func TestCloseDuringRun(t *testing.T) {
	for _, tc := range []struct {
		name    string
		closers int
	}{
		{"once", 1},
		{"twice at once", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cg := testenv.NewCgroup(t)
			rec := running(t, cg)
			last := runIn(t, cg, "setpriv", asNobody("dmesg")...)
			var wg sync.WaitGroup
			errs := make([]error, tc.closers)
			for i := range errs {
				wg.Go(func() { errs[i] = rec.ctl.Close() })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("close %d: %v", i, err)
				}
			}
			if err := <-rec.done; !errors.Is(err, controller.ErrClosed) {
				t.Errorf("run = %v, want ErrClosed", err)
			}
			if !rec.sink.has(last) {
				t.Errorf("the check made before Close (pid %d) is not in the last batch", last)
			}
		})
	}
}

func TestCloseAfterRun(t *testing.T) {
	cg := testenv.NewCgroup(t)
	rec := running(t, cg)
	rec.stop(t)
	for i := range 2 {
		if err := rec.ctl.Close(); err != nil {
			t.Errorf("close %d after run: %v", i, err)
		}
	}
}

// TestIncludeCgroupThatAppearsLater starts recording with an include
// directory that does not exist yet: nothing is recorded until it is made,
// then its checks are, and the change is reported.
func TestIncludeCgroupThatAppearsLater(t *testing.T) {
	prereq.RequireCommands(t, "setpriv", "dmesg")
	cg := testenv.NewCgroup(t)
	later := cg.Child(t, "later")
	cfg := configIn(cg)
	cfg.CgroupInclude = []string{later.Rel}
	reports := make(chan []string, 3)
	cfg.OnMissingCgroups = func(paths []string) { reports <- paths }
	rec := start(t, cfg)
	if got := next(t, reports); !slices.Equal(got, []string{later.Path}) {
		t.Fatalf("reported missing %q, want %q", got, later.Path)
	}

	before := runIn(t, cg, "setpriv", asNobody("dmesg")...)
	if err := os.Mkdir(later.Path, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := next(t, reports); len(got) != 0 {
		t.Fatalf("reported missing %q once the directory exists, want none", got)
	}
	after := runIn(t, later, "setpriv", asNobody("dmesg")...)
	checks, _ := rec.stop(t)

	if rec.sink.has(before) {
		t.Errorf("a check of pid %d, outside the include directory, was recorded", before)
	}
	if !rec.sink.has(after) {
		t.Errorf("no check of pid %d, in the include directory once it existed, among %d records", after, len(checks))
	}
	for _, c := range checks {
		if c.CgroupPath != later.Rel {
			t.Errorf("record from cgroup %q, want only %q: %+v", c.CgroupPath, later.Rel, c)
		}
	}
}

// next returns the next report, failing rather than hanging without one.
func next(t *testing.T, reports <-chan []string) []string {
	t.Helper()
	select {
	case paths := <-reports:
		return paths
	case <-time.After(30 * time.Second):
		t.Fatal("no report of the missing cgroups")
		return nil
	}
}
