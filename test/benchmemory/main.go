// Command benchmemory reports the resident memory of otelcol-capprof run
// with its default configuration (no --config: otelcol-config/local.yaml),
// idle and then while a worker makes -rate denied capability checks a
// second (sethostname as nobody, CAP_SYS_ADMIN). Each figure is the median
// of one sample a second, split by /proc/PID/smaps into the binary's own
// pages, the BPF maps' (the ring buffer's data pages are mapped twice) and
// anonymous memory (the Go heap and runtime).
//
// The collector runs in a private network namespace, so its health_check
// and telemetry ports do not collide with anything on the machine, and
// writes its file exporter's output into a temporary directory. Unless
// -host, it records only the worker's cgroup (cgroups.include, the one
// setting changed), so that the machine's other checks do not make idle
// busy. Needs root.
//
//	sudo go run ./test/benchmemory -bin bin/otelcol-capprof [-idle 30s] [-load 30s] [-rate 50000] [-host]
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/test/procstat"
)

func main() {
	worker := flag.Bool("worker", false, "internal: make -rate checks a second for -load")
	bin := flag.String("bin", "bin/otelcol-capprof", "the collector binary")
	idle := flag.Duration("idle", 30*time.Second, "how long to sample the idle collector")
	load := flag.Duration("load", 30*time.Second, "how long to sample it under load")
	rate := flag.Int("rate", 50000, "capability checks a second under load")
	host := flag.Bool("host", false, "record every check on the machine, not only the worker's")
	flag.Parse()
	var err error
	if *worker {
		err = work(*rate, *load)
	} else {
		err = bench(*bin, *idle, *load, *rate, *host, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchmemory:", err)
		os.Exit(1)
	}
}

// work makes rate denied checks a second for d, paced every millisecond,
// and prints how many it made.
func work(rate int, d time.Duration) error {
	name := []byte("benchmemory")
	start := time.Now()
	made := 0
	for tick := time.NewTicker(time.Millisecond); time.Since(start) < d; <-tick.C {
		due := int(time.Since(start).Seconds()*float64(rate)) - made
		for range due {
			if err := unix.Sethostname(name); !errors.Is(err, unix.EPERM) {
				return fmt.Errorf("sethostname as nobody: %v, want EPERM", err)
			}
		}
		made += due
	}
	fmt.Println(made)
	return nil
}

func bench(bin string, idle, load time.Duration, rate int, host bool, out io.Writer) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "benchmemory")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	r, err := cgroup.NewResolver(cgroup.Options{})
	if err != nil {
		return err
	}
	cg, err := r.Create("benchmemory")
	if err != nil {
		return err
	}
	defer cg.Remove() // after the worker has exited: it is empty
	var args []string
	if !host {
		args = append(args, "--set=receivers.capabilities.cgroups.include=["+cg.Rel+"]")
	}
	logPath := filepath.Join(dir, "collector.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	// unshare without --fork execs, so the collector keeps cmd's pid.
	cmd := exec.Command("unshare", append([]string{"-n", "sh", "-c", `ip link set lo up && exec "$0" "$@"`, bin}, args...)...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start collector: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer cmd.Process.Kill()
	if err := waitFor(logPath, "recording capability checks", exited); err != nil {
		return err
	}
	pid := cmd.Process.Pid

	idleSamples, err := sampleFor(pid, bin, idle)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	w := exec.Command(self, "-worker", "-rate", strconv.Itoa(rate), "-load", load.String())
	w.SysProcAttr = &syscall.SysProcAttr{
		Credential:  &syscall.Credential{Uid: 65534, Gid: 65534},
		UseCgroupFD: true, CgroupFD: int(cg.File.Fd()),
	}
	var made bytes.Buffer
	w.Stdout, w.Stderr = &made, os.Stderr
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	loadSamples, err := sampleFor(pid, bin, load)
	if werr := w.Wait(); err == nil && werr != nil {
		err = fmt.Errorf("worker: %w", werr)
	}
	if err != nil {
		return err
	}

	// Killed, not stopped: draining a backlog through the debug and file
	// exporters can take minutes and tells nothing about memory.
	log, err := os.ReadFile(logPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "otelcol-capprof, default config, RSS in MiB (median of one sample a second): total = binary + bpf maps + anonymous\n")
	report(out, "idle", idleSamples)
	report(out, fmt.Sprintf("%d checks/s", rate), loadSamples)
	scope := "the worker's cgroup"
	if host {
		scope = "the whole machine"
	}
	fmt.Fprintf(out, "recording %s; the worker made %s checks in %s; the receiver logged %d ring-buffer-full warnings\n",
		scope, strings.TrimSpace(made.String()), load, bytes.Count(log, []byte("ring buffer full")))
	return nil
}

// waitFor waits until the collector logs text; loading the BPF program on
// a busy machine can take a minute.
func waitFor(path, text string, exited <-chan struct{}) error {
	const timeout = 2 * time.Minute
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(text)) {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("the collector exited before logging %q:\n%s", text, b)
		case <-time.After(100 * time.Millisecond):
		}
	}
	b, _ := os.ReadFile(path)
	return fmt.Errorf("the collector did not log %q within %s:\n%s", text, timeout, b)
}

func sampleFor(pid int, bin string, d time.Duration) ([]procstat.Memory, error) {
	var samples []procstat.Memory
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(time.Second) {
		s, err := procstat.ReadMemory(pid, bin)
		if err != nil {
			return nil, err
		}
		samples = append(samples, s)
	}
	return samples, nil
}

func report(out io.Writer, phase string, samples []procstat.Memory) {
	med := func(pick func(procstat.Memory) int) float64 {
		v := make([]int, len(samples))
		for i, s := range samples {
			v[i] = pick(s)
		}
		slices.Sort(v)
		return float64(v[len(v)/2]) / 1024
	}
	fmt.Fprintf(out, "%-14s total %6.1f = binary %5.1f + bpf %5.1f + anonymous %5.1f (+ other files)\n", phase,
		med(func(s procstat.Memory) int { return s.Total }), med(func(s procstat.Memory) int { return s.Binary }),
		med(func(s procstat.Memory) int { return s.BPF }), med(func(s procstat.Memory) int { return s.Anon }))
}
