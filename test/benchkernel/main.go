// Command benchkernel measures what one capability check costs the process
// that makes it: with nothing attached, with an empty program on the same
// attach point (the floor), and with capprof in stream and unique mode, each
// with audit all and audited. Configurations alternate within each round so
// that the machine's drift hits them alike; the report gives medians and
// ratios, not absolute goals.
//
// The worker is this binary re-run as nobody (-worker): pinned to CPU 0, it
// makes N checks of each kind in 20 chunks and reports its fastest chunk's
// thread CPU time per check: an audited check (sethostname, a denied
// CAP_SYS_ADMIN check) and a NOAUDIT one (mmap of a private writable page,
// a memory commit, then munmap). The report is the median over the rounds.
// Then each recorder runs the worker once per kind with BPF run-time
// statistics on, for the check program's own kernel time per run.
//
// Then (-mixed D) it runs a mixed workload as nobody in a cgroup of its own
// for D, a C build loop and a dmesg loop by default (-workload), recorded by
// the four recorder configurations at once, so each sees the same checks:
// records per second shipped, NOAUDIT checks skipped, and the check
// program's own kernel time per run (BPF run-time statistics).
//
// With -base REV it also measures the recorders of that git revision in
// the same rounds, each configuration held by a child (-hold): this binary
// for this tree's, a build of this harness against REV's tree for REV's
// (base.go), and reports the ratio of the time each adds to a check.
//
//	sudo go run ./test/benchkernel [-rounds 7] [-n 200000] [-attach auto] [-mixed 20s] [-base REV]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/tracer"
)

func main() {
	worker := flag.Bool("worker", false, "internal: run the measured loop")
	kind := flag.String("kind", "", "internal: the worker makes only this kind of check")
	n := flag.Int("n", 200000, "checks per measurement")
	rounds := flag.Int("rounds", 7, "rounds; every configuration is measured once per round")
	attach := tracer.Auto
	flag.TextVar(&attach, "attach", attach, "attach method to measure")
	mixed := flag.Duration("mixed", 20*time.Second, "how long to record the mixed workload (0: skip it)")
	workload := flag.String("workload", defaultWorkload, "the mixed workload: a shell script run as nobody in a fresh directory")
	base := flag.String("base", "", "a git revision whose recorders to measure side by side with this tree's")
	held := flag.String("hold", "", "internal: attach this recorder configuration until stdin closes")
	flag.Parse()
	if *held != "" {
		if err := hold(attach, *held); err != nil {
			fmt.Fprintln(os.Stderr, "benchkernel hold:", err)
			os.Exit(1)
		}
		return
	}
	if *worker {
		if err := work(*n, *kind); err != nil {
			fmt.Fprintln(os.Stderr, "benchkernel worker:", err)
			os.Exit(1)
		}
		return
	}
	method, err := resolveMethod(attach)
	if err == nil {
		err = bench(*n, *rounds, method, *base, os.Stdout)
	}
	if err == nil && *mixed > 0 {
		err = benchMixed(method, *mixed, *workload, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchkernel:", err)
		os.Exit(1)
	}
}

// kinds are the checks the worker measures, in the order it prints them.
var kinds = []string{"audited", "noaudit"}

// work makes n checks of each kind on a pinned thread, in chunks, and prints
// the fastest chunk's ns per check of each: noise (interrupts, the other
// tenant of the core) only ever adds time, so the minimum is the steadiest
// estimate.
func work(n int, only string) error {
	runtime.LockOSThread()
	var cpus unix.CPUSet
	cpus.Set(0)
	if err := unix.SchedSetaffinity(0, &cpus); err != nil {
		return fmt.Errorf("pin to CPU 0: %w", err)
	}
	name := []byte("capprof-bench")
	if err := unix.Sethostname(name); err != unix.EPERM {
		return fmt.Errorf("sethostname must be denied (run as non-root), got %v", err)
	}
	audited := func() { _ = unix.Sethostname(name) }
	// A private writable mapping is committed memory: the kernel asks
	// cap_vm_enough_memory, which checks CAP_SYS_ADMIN with CAP_OPT_NOAUDIT.
	noaudit := func() {
		addr, _, errno := unix.Syscall6(unix.SYS_MMAP, 0, 4096, unix.PROT_READ|unix.PROT_WRITE,
			unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uintptr(0), 0)
		if errno == 0 {
			_, _, _ = unix.Syscall(unix.SYS_MUNMAP, addr, 4096, 0)
		}
	}
	for i, check := range []func(){audited, noaudit} {
		if only == "" || only == kinds[i] {
			fmt.Printf("%.3f ", fastestChunk(n, check))
		}
	}
	fmt.Println()
	return nil
}

func fastestChunk(n int, check func()) float64 {
	const chunks = 20
	per := max(n/chunks, 1)
	best := math.Inf(1)
	for c := 0; c < chunks; c++ {
		start := threadCPU()
		for i := 0; i < per; i++ {
			check()
		}
		best = min(best, float64(threadCPU()-start)/float64(per))
	}
	return best
}

func threadCPU() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return ts.Nano()
}

// config is one measured setup: start attaches, the returned stop detaches.
type config struct {
	name  string
	start func() (stop func() (lost uint64, err error), err error)
}

func resolveMethod(method tracer.Method) (tracer.Method, error) {
	if method != tracer.Auto {
		return method, nil
	}
	return firstWorkingMethod()
}

// recorders are the measured recorder configurations.
var recorders = []struct {
	name  string
	mode  tracer.Mode
	audit tracer.Audit
}{
	{"unique all", tracer.Unique, tracer.AllAudit},
	{"unique audited", tracer.Unique, tracer.Audited},
	{"stream all", tracer.Stream, tracer.AllAudit},
	{"stream audited", tracer.Stream, tracer.Audited},
}

func bench(n, rounds int, method tracer.Method, base string, out io.Writer) error {
	configs := []config{
		{"none", func() (func() (uint64, error), error) { return func() (uint64, error) { return 0, nil }, nil }},
		{"floor", func() (func() (uint64, error), error) {
			f, err := openFloor(method)
			if err != nil {
				return nil, err
			}
			return func() (uint64, error) { return 0, f.Close() }, nil
		}},
	}
	if base == "" {
		for _, r := range recorders {
			configs = append(configs, config{r.name, recorder(method, r.mode, r.audit)})
		}
	} else {
		tmp, err := os.MkdirTemp("", "benchkernel-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		baseBin, err := buildBase(base, tmp)
		if err != nil {
			return err
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		for _, r := range recorders {
			configs = append(configs, config{r.name, heldRecorder(self, method, r.name)},
				config{baseName(r.name), heldRecorder(baseBin, method, r.name)})
		}
	}
	results := make(map[string][][]float64) // per config, per round, per kind
	var lost uint64
	for r := 0; r < rounds; r++ {
		for i := range configs {
			c := configs[(i+r)%len(configs)] // rotate the order each round
			stop, err := c.start()
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			ns, werr := runWorker(n, "")
			l, serr := stop()
			if werr != nil || serr != nil {
				return fmt.Errorf("%s: %w", c.name, errors.Join(werr, serr))
			}
			lost += l
			results[c.name] = append(results[c.name], ns)
		}
	}
	report(out, method, n, rounds, configs, results, lost)
	if base != "" {
		reportBase(out, base, results)
	}
	return programTime(method, n, out)
}

// programTime runs the worker once per kind under each recorder with BPF
// run-time statistics on, and reports the check program's own kernel time
// per run: the thread CPU time above also holds the syscall's own cost,
// 4.6 µs for the memory commit, whose noise hides the program's.
func programTime(m tracer.Method, n int, out io.Writer) error {
	st, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return fmt.Errorf("enable BPF run-time statistics: %w", err)
	}
	defer st.Close()
	fmt.Fprintf(out, "\ncheck program's kernel time per run (BPF run-time statistics), %d checks of each kind\n%-15s", n, "config")
	for _, k := range kinds {
		fmt.Fprintf(out, " %14s", k+" ns/run")
	}
	fmt.Fprintln(out)
	for _, rc := range recorders {
		r, err := startRecording(recorderConfig(m, rc.mode, rc.audit))
		if err != nil {
			return fmt.Errorf("%s: %w", rc.name, err)
		}
		fmt.Fprintf(out, "%-15s", rc.name)
		for _, k := range kinds {
			runs0, total0, err0 := r.ctl.CheckRuns()
			_, werr := runWorker(n, k)
			runs1, total1, err1 := r.ctl.CheckRuns()
			if err := errors.Join(err0, werr, err1); err != nil {
				_, _ = r.stop()
				return fmt.Errorf("%s: %w", rc.name, err)
			}
			fmt.Fprintf(out, " %14.1f", float64((total1-total0).Nanoseconds())/float64(max(runs1-runs0, 1)))
		}
		fmt.Fprintln(out)
		if _, err := r.stop(); err != nil {
			return fmt.Errorf("%s: %w", rc.name, err)
		}
	}
	return nil
}

// recorder runs the real controller with a sink that discards, on a ring
// buffer big enough that the measured checks are not dropped.
func recorder(m tracer.Method, mode tracer.Mode, audit tracer.Audit) func() (func() (uint64, error), error) {
	return func() (func() (uint64, error), error) {
		r, err := startRecording(recorderConfig(m, mode, audit))
		if err != nil {
			return nil, err
		}
		return func() (uint64, error) {
			s, err := r.stop()
			return s.Lost, err
		}, nil
	}
}

func recorderConfig(m tracer.Method, mode tracer.Mode, audit tracer.Audit) controller.Config {
	cfg := controller.DefaultConfig()
	cfg.Tracer.Method = m
	cfg.Tracer.Mode = mode
	cfg.Tracer.Audit = audit
	cfg.Tracer.RingBufferSize = 64 << 20
	cfg.Logger = slog.New(slog.DiscardHandler)
	return cfg
}

// recording is a controller running in the background with a counting sink.
type recording struct {
	ctl    *controller.Controller
	cancel context.CancelFunc
	done   chan error
}

func startRecording(cfg controller.Config) (*recording, error) {
	ctl, err := controller.New(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &recording{ctl: ctl, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- ctl.Run(ctx, discard{}) }()
	return r, nil
}

// stop ends the recording and returns its counters.
func (r *recording) stop() (controller.Stats, error) {
	r.cancel()
	err := <-r.done
	r.ctl.Close()
	return r.ctl.Stats(), err
}

type discard struct{}

func (discard) Write([]check.Check) error { return nil }

// runWorker returns the worker's ns per check of each kind.
// only, when not "", is the one kind to make.
func runWorker(n int, only string) ([]float64, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", self, "-worker", "-n", strconv.Itoa(n), "-kind", only)
	cmd.Stderr = os.Stderr
	outb, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	fields := strings.Fields(string(outb))
	if want := len(kinds); len(fields) != want && (only == "" || len(fields) != 1) {
		return nil, fmt.Errorf("worker printed %q, want one figure per kind", outb)
	}
	ns := make([]float64, len(fields))
	for i, f := range fields {
		if ns[i], err = strconv.ParseFloat(f, 64); err != nil {
			return nil, fmt.Errorf("worker: %w", err)
		}
	}
	return ns, nil
}

func firstWorkingMethod() (tracer.Method, error) {
	for _, m := range tracer.Methods {
		if tracer.ProbeMethod(m) == nil {
			return m, nil
		}
	}
	return "", tracer.ErrNoMethod
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func baseName(name string) string { return "base " + name }

// reportBase compares each recorder's added cost with the base's: the
// ratio of the medians of the time each adds to a check over "none".
func reportBase(w io.Writer, base string, results map[string][][]float64) {
	fmt.Fprintf(w, "\nthis tree vs %s: added ns per check, and the ratio\n%-20s", base, "config")
	for _, k := range kinds {
		fmt.Fprintf(w, " %14s %14s %7s", k+" this", k+" base", "ratio")
	}
	fmt.Fprintln(w)
	none := medians(results["none"])
	for _, r := range recorders {
		cur, old := medians(results[r.name]), medians(results[baseName(r.name)])
		fmt.Fprintf(w, "%-20s", r.name)
		for i := range kinds {
			added, baseAdded := cur[i]-none[i], old[i]-none[i]
			fmt.Fprintf(w, " %14.1f %14.1f %6.2fx", added, baseAdded, added/baseAdded)
		}
		fmt.Fprintln(w)
	}
}

// medians are the medians over the rounds of each kind's ns per check.
func medians(rounds [][]float64) []float64 {
	out := make([]float64, len(kinds))
	for i := range kinds {
		var v []float64
		for _, r := range rounds {
			v = append(v, r[i])
		}
		out[i] = median(v)
	}
	return out
}

func report(w io.Writer, m tracer.Method, n, rounds int, configs []config, results map[string][][]float64, lost uint64) {
	fmt.Fprintf(w, "capability-check cost, method %s, %d checks of each kind x %d rounds, worker pinned to CPU 0, %s\n",
		m, n, rounds, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "audited: a denied sethostname (CAP_SYS_ADMIN); noaudit: mmap+munmap of a private writable page (CAP_SYS_ADMIN, CAP_OPT_NOAUDIT)\n")
	fmt.Fprintf(w, "%-20s", "config")
	for _, k := range kinds {
		fmt.Fprintf(w, " %14s %9s %9s", k+" ns", "added", "/ floor's")
	}
	fmt.Fprintln(w)
	none, floor := medians(results["none"]), medians(results["floor"])
	for _, c := range configs {
		fmt.Fprintf(w, "%-20s", c.name)
		for i, med := range medians(results[c.name]) {
			added, ratio := "-", "-"
			if c.name != "none" {
				added = fmt.Sprintf("%.1f", med-none[i])
				if fa := floor[i] - none[i]; fa > 0 && c.name != "floor" {
					ratio = fmt.Sprintf("%.1fx", (med-none[i])/fa)
				}
			}
			fmt.Fprintf(w, " %14.1f %9s %9s", med, added, ratio)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "events lost by the recorders: %d\n", lost)
}
