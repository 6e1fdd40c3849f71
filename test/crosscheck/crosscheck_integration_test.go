//go:build integration

package crosscheck

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/testenv"
	"github.com/capprof/capprof/internal/tracer"
)

// key is what both recorders count by.
type key struct {
	pid    uint32
	cap    int
	denied bool
}

// bpftrace counts the cgroup's checks on tracepoint:capability:cap_capable.
type bpftrace struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

func startBpftrace(t *testing.T, cg *testenv.Cgroup) *bpftrace {
	t.Helper()
	// BEGIN runs once every probe is attached; "Attaching N probes..." is
	// printed before.
	script := fmt.Sprintf(`BEGIN { printf("READY\n"); } tracepoint:capability:cap_capable /cgroup == cgroupid(%q)/ { @c[pid, args->cap, args->ret != 0] = count(); }`, cg.Path)
	b := &bpftrace{cmd: exec.Command("bpftrace", "-e", script)}
	stdout, err := b.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	b.cmd.Stderr = os.Stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.cmd.Process.Kill() })
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("bpftrace did not attach: %v", err)
		}
		if strings.TrimSpace(line) == "READY" {
			break
		}
	}
	go func() { _, _ = b.out.ReadFrom(r) }()
	return b
}

var countLine = regexp.MustCompile(`^@c\[(\d+), (\d+), (\d+)\]: (\d+)$`)

// stop ends bpftrace with SIGINT, which prints its map.
func (b *bpftrace) stop(t *testing.T) map[key]uint64 {
	t.Helper()
	_ = b.cmd.Process.Signal(syscall.SIGINT)
	if err := b.cmd.Wait(); err != nil {
		t.Fatalf("bpftrace: %v", err)
	}
	counts := map[key]uint64{}
	for _, line := range strings.Split(b.out.String(), "\n") {
		m := countLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		pid, _ := strconv.ParseUint(m[1], 10, 32)
		c, _ := strconv.Atoi(m[2])
		n, _ := strconv.ParseUint(m[4], 10, 64)
		counts[key{uint32(pid), c, m[3] == "1"}] += n
	}
	return counts
}

// recording is capprof's controller filtered to the workload's cgroup.
type recording struct {
	ctl    *controller.Controller
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	counts map[key]uint64
}

func (r *recording) Write(checks []check.Check) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range checks {
		r.counts[key{c.PID, c.Cap, c.Denied}] += c.Count
	}
	return nil
}

func startCapprof(t *testing.T, cg *testenv.Cgroup, configure func(*controller.Config)) *recording {
	t.Helper()
	cfg := controller.DefaultConfig()
	cfg.CgroupInclude = []string{cg.Rel}
	configure(&cfg)
	ctl, err := controller.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	r := &recording{ctl: ctl, cancel: cancel, done: make(chan error, 1), counts: map[key]uint64{}}
	go func() { r.done <- ctl.Run(ctx, r) }()
	return r
}

func (r *recording) stop(t *testing.T) (map[key]uint64, controller.Stats) {
	t.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
	return r.counts, r.ctl.Stats()
}

// workload makes thousands of checks from several processes at once in cg:
// denied CAP_SYSLOG and NOAUDIT CAP_SYS_ADMIN (dmesg as nobody), granted
// CAP_CHOWN (root chowning a file back and forth), denied CAP_SYS_ADMIN in
// the initial user namespace (unshare + hostname).
func workload(t *testing.T, cg *testenv.Cgroup, rounds int) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	n := strconv.Itoa(rounds)
	loops := [][]string{
		{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c",
			`i=0; while [ $i -lt ` + n + ` ]; do dmesg >/dev/null 2>&1; i=$((i+1)); done`},
		{"sh", "-c", `i=0; while [ $i -lt ` + n + ` ]; do chown 65534:65534 "$0"; chown 0:0 "$0"; i=$((i+1)); done`, file},
		{"sh", "-c", `i=0; while [ $i -lt ` + n + ` ]; do unshare -U -r hostname x 2>/dev/null; i=$((i+1)); done`},
	}
	var wg sync.WaitGroup
	for _, l := range loops {
		wg.Go(func() {
			if out, err := cg.Command(l[0], l[1:]...).CombinedOutput(); err != nil {
				t.Errorf("%s: %v\n%s", l[0], err, out)
			}
		})
	}
	wg.Wait()
}

func total(m map[key]uint64) (n uint64) {
	for _, v := range m {
		n += v
	}
	return n
}

func byCapVerdict(m map[key]uint64) map[key]uint64 {
	out := map[key]uint64{}
	for k, v := range m {
		out[key{cap: k.cap, denied: k.denied}] += v
	}
	return out
}

func requireTools(t *testing.T) {
	prereq.RequireRoot(t)
	prereq.RequireCommands(t, "bpftrace", "setpriv", "dmesg", "chown", "unshare", "hostname")
}

// TestCountsMatchBpftrace: stream mode per process, capability and verdict,
// and unique mode's summed counts per capability and verdict, equal
// bpftrace's on the same workload.
func TestCountsMatchBpftrace(t *testing.T) {
	requireTools(t)
	cg := testenv.NewCgroup(t)
	stream := startCapprof(t, cg, func(*controller.Config) {})
	unique := startCapprof(t, cg, func(c *controller.Config) { c.Tracer.Mode = tracer.Unique })
	bt := startBpftrace(t, cg)
	workload(t, cg, 150)
	want := bt.stop(t)
	streamCounts, sstats := stream.stop(t)
	uniqueCounts, ustats := unique.stop(t)

	if sstats.LostChecks != 0 || ustats.LostChecks != 0 {
		t.Fatalf("checks lost: stream %d, unique %d", sstats.LostChecks, ustats.LostChecks)
	}
	if total(want) < 1000 {
		t.Fatalf("the workload made only %d checks", total(want))
	}
	for k, n := range want {
		if streamCounts[k] != n {
			t.Errorf("pid %d cap %d denied %v: bpftrace %d, capprof stream %d", k.pid, k.cap, k.denied, n, streamCounts[k])
		}
	}
	for k, n := range streamCounts {
		if _, ok := want[k]; !ok {
			t.Errorf("pid %d cap %d denied %v: capprof stream %d, bpftrace none", k.pid, k.cap, k.denied, n)
		}
	}
	wantAgg, gotAgg := byCapVerdict(want), byCapVerdict(uniqueCounts)
	for k, n := range wantAgg {
		if gotAgg[k] != n {
			t.Errorf("cap %d denied %v: bpftrace %d, capprof unique %d", k.cap, k.denied, n, gotAgg[k])
		}
	}
	t.Logf("%d checks from %d processes; stream %d records, unique %d records", total(want), len(pidsOf(want)), sstats.Records, ustats.Records)
}

// TestLossEqualsTheDifference runs capprof with a one-page ring buffer that
// its reader does not drain: what it misses of bpftrace's count is exactly
// what it reports as lost checks.
func TestLossEqualsTheDifference(t *testing.T) {
	requireTools(t)
	cg := testenv.NewCgroup(t)
	small := startCapprof(t, cg, func(c *controller.Config) {
		c.Tracer.RingBufferSize = 4096
		c.Tracer.WakeupBytes = 1 << 30
		c.MaxBatchDelay = time.Minute
	})
	bt := startBpftrace(t, cg)
	workload(t, cg, 50)
	want := bt.stop(t)
	got, stats := small.stop(t)
	if stats.LostChecks == 0 {
		t.Fatal("the one-page ring buffer lost nothing: the test proves nothing")
	}
	if total(want)-total(got) != stats.LostChecks {
		t.Errorf("bpftrace %d, capprof %d: the difference %d is not the %d checks capprof reports lost",
			total(want), total(got), total(want)-total(got), stats.LostChecks)
	}
	t.Logf("bpftrace %d, capprof %d, lost %d (and %d process events)", total(want), total(got), stats.LostChecks, stats.Lost-stats.LostChecks)
}

func pidsOf(m map[key]uint64) map[uint32]bool {
	pids := map[uint32]bool{}
	for k := range m {
		pids[k.pid] = true
	}
	return pids
}
