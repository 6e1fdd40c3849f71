//go:build integration

package controller_test

import (
	"context"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/testenv"
	"github.com/capprof/capprof/internal/tracer"
)

const (
	capChown    = 0
	capSysAdmin = 21
	capSyslog   = 34
	nobody      = 65534
)

// collector is an ExitSink that keeps every check and exit.
type collector struct {
	mu     sync.Mutex
	checks []check.Check
	exits  []controller.Exit
}

func (c *collector) Exited(e controller.Exit) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.exits = append(c.exits, e)
}

func (c *collector) Write(batch []check.Check) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checks = append(c.checks, batch...)
	return nil
}

// recording is a controller running in the background.
type recording struct {
	ctl    *controller.Controller
	sink   *collector
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg controller.Config) *recording {
	t.Helper()
	prereq.RequireRoot(t)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctl, err := controller.New(cfg)
	if err != nil {
		t.Fatalf("start recording: %v", err)
	}
	t.Cleanup(func() { ctl.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	r := &recording{ctl: ctl, sink: &collector{}, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- ctl.Run(ctx, r.sink) }()
	return r
}

// stop ends the recording and returns everything it wrote.
func (r *recording) stop(t *testing.T) ([]check.Check, controller.Stats) {
	t.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatalf("run: %v", err)
	}
	return r.sink.checks, r.ctl.Stats()
}

// configIn records only cg's subtree, so that the machine's other
// processes cannot disturb the assertions.
func configIn(cg *testenv.Cgroup) controller.Config {
	cfg := controller.DefaultConfig()
	cfg.CgroupInclude = []string{cg.Rel}
	cfg.FlushInterval = 200 * time.Millisecond
	cfg.MaxBatchDelay = 200 * time.Millisecond
	return cfg
}

func asNobody(args ...string) []string {
	return append([]string{"--reuid=65534", "--regid=65534", "--clear-groups"}, args...)
}

func runIn(t *testing.T, cg *testenv.Cgroup, name string, args ...string) int {
	t.Helper()
	cmd := cg.Command(name, args...)
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("run %s: %v\n%s", name, err, out)
	}
	return cmd.Process.Pid
}

func filter(checks []check.Check, keep func(*check.Check) bool) []check.Check {
	var out []check.Check
	for i := range checks {
		if keep(&checks[i]) {
			out = append(out, checks[i])
		}
	}
	return out
}

func TestDmesgAsNobodyIsDeniedSyslog(t *testing.T) {
	cg := testenv.NewCgroup(t)
	rec := start(t, configIn(cg))
	pid := runIn(t, cg, "setpriv", asNobody("dmesg")...)
	checks, stats := rec.stop(t)

	syslog := filter(checks, func(c *check.Check) bool { return c.Cap == capSyslog })
	if len(syslog) == 0 {
		t.Fatalf("no CAP_SYSLOG check among %d records", len(checks))
	}
	for _, c := range syslog {
		if !c.Denied || c.Audit != check.Audited || c.PID != uint32(pid) || c.UID != nobody || c.EUID != nobody ||
			c.Process.ExecutablePath != "/usr/bin/dmesg" || c.UserNS.Level != 0 || !c.UserNS.IsHost ||
			c.Container.ID != "" || c.CgroupPath != cg.Rel || c.CgroupID != cg.ID {
			t.Errorf("unexpected CAP_SYSLOG record: %+v", c)
		}
		if c.Process.ExecID == "" || c.Process.ParentExecID == "" || c.Process.PPID != uint32(os.Getpid()) {
			t.Errorf("process attribution incomplete: %+v", c.Process)
		}
		if c.SyscallName != "syslog" && c.SyscallName != "openat" && c.SyscallName != "read" {
			t.Errorf("CAP_SYSLOG checked in syscall %q (%d), want syslog, openat or read", c.SyscallName, c.Syscall)
		}
		if age := time.Since(c.Time); age < 0 || age > time.Minute {
			t.Errorf("record time %s is not now", c.Time)
		}
	}
	// cap_vm_enough_memory's probes: every non-root memory commit checks
	// CAP_SYS_ADMIN with CAP_OPT_NOAUDIT.
	commits := filter(checks, func(c *check.Check) bool { return c.Cap == capSysAdmin && c.UID == nobody })
	if len(commits) == 0 {
		t.Fatal("no CAP_SYS_ADMIN memory-commit check of the non-root process")
	}
	for _, c := range commits {
		if c.Audit != check.NotAudited {
			t.Errorf("memory-commit check not classified NOAUDIT: syscall %s audit %d", c.SyscallName, c.Audit)
		}
	}
	if stats.Lost != 0 {
		t.Errorf("lost %d events", stats.Lost)
	}
}

func TestUnshareHostnameIsDeniedInInitialNamespace(t *testing.T) {
	cg := testenv.NewCgroup(t)
	rec := start(t, configIn(cg))
	pid := runIn(t, cg, "unshare", "-U", "-r", "hostname", "capprof-test")
	checks, _ := rec.stop(t)

	got := filter(checks, func(c *check.Check) bool {
		return c.Cap == capSysAdmin && c.SyscallName == "sethostname"
	})
	if len(got) != 1 {
		t.Fatalf("want 1 CAP_SYS_ADMIN check in sethostname, got %d: %+v", len(got), got)
	}
	c := got[0]
	if !c.Denied || c.Audit != check.Audited || !c.UserNS.IsHost || c.UserNS.Level != 0 ||
		c.Process.ExecutablePath != "/usr/bin/hostname" || c.PID != uint32(pid) {
		t.Errorf("unexpected record: %+v", c)
	}
	if !c.Effective.Has(capSysAdmin) {
		t.Errorf("the new user namespace's root holds CAP_SYS_ADMIN there; effective = %s", c.Effective)
	}
}

func TestRootChownOfAnotherUsersFileIsGranted(t *testing.T) {
	cg := testenv.NewCgroup(t)
	file := nobodysFile(t)
	rec := start(t, configIn(cg))
	pid := runIn(t, cg, "chown", "0:0", file)
	checks, _ := rec.stop(t)

	got := filter(checks, func(c *check.Check) bool { return c.Cap == capChown })
	if len(got) == 0 {
		t.Fatalf("no CAP_CHOWN check among %d records", len(checks))
	}
	for _, c := range got {
		if c.Denied || c.Audit != check.Audited || c.Process.ExecutablePath != "/usr/bin/chown" || c.PID != uint32(pid) || c.UID != 0 {
			t.Errorf("unexpected record: %+v", c)
		}
	}
}

// Each process's exit carries its wait status, as its parent sees it:
// an exit code, or the signal that ended it.
func TestExitsCarryTheStatus(t *testing.T) {
	cg := testenv.NewCgroup(t)
	rec := start(t, configIn(cg))
	pid := runIn(t, cg, "sh", "-c", `sh -c 'exit 3'; sh -c 'kill -TERM $$'; exit 5`)
	rec.stop(t)

	got := map[string]string{}
	for _, e := range rec.sink.exits {
		switch {
		case e.Process.PID == uint32(pid):
			got["main"] = statusOf(e.Status)
		case slices.Contains(e.Process.Args, "exit 3"):
			got["exit 3"] = statusOf(e.Status)
		case slices.Contains(e.Process.Args, "kill -TERM $$"):
			got["killed"] = statusOf(e.Status)
		}
	}
	want := map[string]string{"main": "exit 5", "exit 3": "exit 3", "killed": "signal terminated"}
	if !maps.Equal(got, want) {
		t.Errorf("exits %v, want %v (all: %+v)", got, want, rec.sink.exits)
	}
}

func statusOf(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return "exit " + strconv.Itoa(ws.ExitStatus())
}

// dmesgLoop returns a shell command that runs dmesg n times as nobody.
func dmesgLoop(n int) []string {
	return asNobody("sh", "-c", `i=0; while [ $i -lt `+strconv.Itoa(n)+` ]; do dmesg >/dev/null 2>&1; i=$((i+1)); done`)
}

func TestThousandShortLivedProcessesKeepTheirAttribution(t *testing.T) {
	cg := testenv.NewCgroup(t)
	rec := start(t, configIn(cg))
	runIn(t, cg, "setpriv", dmesgLoop(1000)...)
	checks, stats := rec.stop(t)

	pids := map[uint32]bool{}
	for _, c := range filter(checks, func(c *check.Check) bool { return c.Cap == capSyslog }) {
		if c.Process.ExecutablePath != "/usr/bin/dmesg" {
			t.Fatalf("CAP_SYSLOG check of pid %d attributed to %q", c.PID, c.Process.ExecutablePath)
		}
		pids[c.PID] = true
	}
	if len(pids) != 1000 {
		t.Errorf("CAP_SYSLOG checks from %d dmesg processes, want 1000", len(pids))
	}
	if stats.Lost != 0 {
		t.Errorf("lost %d events", stats.Lost)
	}
}

// TestUniqueModeCountsMatchStreamMode records one workload with both modes
// attached at once, so both see exactly the same checks.
func TestUniqueModeCountsMatchStreamMode(t *testing.T) {
	cg := testenv.NewCgroup(t)
	streamCfg := configIn(cg)
	uniqueCfg := configIn(cg)
	uniqueCfg.Tracer.Mode = tracer.Unique
	stream := start(t, streamCfg)
	unique := start(t, uniqueCfg)
	runIn(t, cg, "setpriv", dmesgLoop(200)...)
	runIn(t, cg, "chown", "0:0", nobodysFile(t))
	uniqueChecks, ustats := unique.stop(t)
	streamChecks, sstats := stream.stop(t)
	if ustats.Lost != 0 || sstats.Lost != 0 {
		t.Fatalf("lost events: unique %d, stream %d", ustats.Lost, sstats.Lost)
	}

	// Group by fields of the kernel's dedup key: the process attribution of
	// a unique record is its key's first check's, so it is not compared.
	type group struct {
		cap     int
		denied  bool
		syscall int
	}
	want := map[group]uint64{}
	for _, c := range streamChecks {
		want[group{c.Cap, c.Denied, c.Syscall}] += c.Count
	}
	got := map[group]uint64{}
	for _, c := range uniqueChecks {
		got[group{c.Cap, c.Denied, c.Syscall}] += c.Count
	}
	for g, n := range want {
		if got[g] != n {
			t.Errorf("%s denied=%v in syscall %d: unique mode counted %d, stream mode saw %d", caps.Name(g.cap), g.denied, g.syscall, got[g], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("unique mode has %d groups, stream mode %d", len(got), len(want))
	}
	if ustats.Checks != sstats.Checks || ustats.Records >= sstats.Records {
		t.Errorf("unique: %d records for %d checks; stream: %d records for %d checks", ustats.Records, ustats.Checks, sstats.Records, sstats.Checks)
	}
	syslog := filter(uniqueChecks, func(c *check.Check) bool { return c.Cap == capSyslog })
	if len(syslog) == 0 || syslog[0].Count != 1 || syslog[0].Process.ExecutablePath != "/usr/bin/dmesg" {
		t.Errorf("a key's first record must come at once with count 1 and its context: %+v", syslog)
	}
}

func TestFilters(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config func(*controller.Config)
		keep   func(*check.Check) bool // every record must satisfy it
		expect func(*check.Check) bool // at least one record must satisfy it
	}{
		{
			name:   "denied only",
			config: func(c *controller.Config) { c.Tracer.Verdict = tracer.Denied },
			keep:   func(c *check.Check) bool { return c.Denied },
			expect: func(c *check.Check) bool { return c.Cap == capSyslog },
		},
		{
			name:   "granted only",
			config: func(c *controller.Config) { c.Tracer.Verdict = tracer.Granted },
			keep:   func(c *check.Check) bool { return !c.Denied },
			expect: func(c *check.Check) bool { return c.Cap == capChown },
		},
		{
			name:   "capability set",
			config: func(c *controller.Config) { c.Tracer.Caps = caps.Set(0).With(capSyslog) },
			keep:   func(c *check.Check) bool { return c.Cap == capSyslog },
			expect: func(c *check.Check) bool { return c.Cap == capSyslog },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cg := testenv.NewCgroup(t)
			cfg := configIn(cg)
			tc.config(&cfg)
			rec := start(t, cfg)
			runIn(t, cg, "setpriv", asNobody("dmesg")...)
			runIn(t, cg, "chown", "0:0", nobodysFile(t))
			checks, _ := rec.stop(t)
			found := false
			for i := range checks {
				if !tc.keep(&checks[i]) {
					t.Errorf("record passed the filter: %s %s", caps.Name(checks[i].Cap), checks[i].Verdict())
				}
				found = found || tc.expect(&checks[i])
			}
			if !found {
				t.Errorf("the expected record is missing among %d", len(checks))
			}
		})
	}
}

func TestExcludedCgroupIsNotRecorded(t *testing.T) {
	cg := testenv.NewCgroup(t)
	cfg := controller.DefaultConfig()
	cfg.CgroupExclude = []string{cg.Rel}
	cfg.Tracer.Caps = caps.Set(0).With(capSyslog)
	rec := start(t, cfg)
	runIn(t, cg, "setpriv", asNobody("dmesg")...)
	outside := exec.Command("setpriv", asNobody("dmesg")...)
	_ = outside.Run()
	checks, _ := rec.stop(t)
	sawOutside := false
	for _, c := range checks {
		if c.CgroupID == cg.ID {
			t.Errorf("record from the excluded cgroup: %+v", c)
		}
		sawOutside = sawOutside || c.PID == uint32(outside.Process.Pid)
	}
	if !sawOutside {
		t.Error("the check outside the excluded cgroup is missing")
	}
}

func TestPIDTreeFilter(t *testing.T) {
	prereq.RequireRoot(t)
	// The tree's root exists before recording starts; its child does not.
	root := exec.Command("sh", "-c", "read line; setpriv --reuid=65534 --regid=65534 --clear-groups dmesg")
	stdin, err := root.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Start(); err != nil {
		t.Fatal(err)
	}
	cfg := controller.DefaultConfig()
	cfg.PIDTree = uint32(root.Process.Pid)
	cfg.Tracer.Caps = caps.Set(0).With(capSyslog)
	rec := start(t, cfg)
	outside := exec.Command("setpriv", asNobody("dmesg")...)
	_ = outside.Run()
	stdin.Write([]byte("go\n"))
	_ = root.Wait()
	checks, _ := rec.stop(t)
	if len(checks) == 0 {
		t.Fatal("no CAP_SYSLOG check from the tracked tree")
	}
	rootPID := uint32(root.Process.Pid)
	for _, c := range checks {
		if c.PID != rootPID && c.Process.PPID != rootPID {
			t.Errorf("record from pid %d (%s, parent %d) outside the tree rooted at %d", c.PID, c.Process.ExecutablePath, c.Process.PPID, rootPID)
		}
		if c.PID == uint32(outside.Process.Pid) {
			t.Errorf("record from the process outside the tree: %+v", c)
		}
	}
}

// TestTinyRingBufferLossIsCounted overflows a one-page ring buffer that the
// reader does not drain, and expects the loss counted and logged.
func TestTinyRingBufferLossIsCounted(t *testing.T) {
	cg := testenv.NewCgroup(t)
	cfg := configIn(cg)
	cfg.Tracer.RingBufferSize = 4096
	cfg.Tracer.WakeupBytes = 1 << 30
	cfg.FlushInterval = time.Minute
	cfg.MaxBatchDelay = time.Minute
	var logs strings.Builder
	var mu sync.Mutex
	cfg.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	rec := start(t, cfg)
	runIn(t, cg, "setpriv", dmesgLoop(50)...)
	checks, stats := rec.stop(t)
	if stats.Lost == 0 {
		t.Fatalf("no loss counted; %d records", len(checks))
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "events lost") {
		t.Errorf("the loss was not reported:\n%s", logs.String())
	}
	t.Logf("%d records, %d events lost", len(checks), stats.Lost)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// runHostDmesg runs dmesg as nobody outside any test cgroup and returns its pid.
func runHostDmesg(t *testing.T) uint32 {
	t.Helper()
	cmd := exec.Command("setpriv", asNobody("dmesg")...)
	_ = cmd.Run()
	return uint32(cmd.Process.Pid)
}

// nobodysFile returns a new file owned by nobody, for root to chown back.
func nobodysFile(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "owned-by-nobody")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(file, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	return file
}
