package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/tracer"
)

// defaultWorkload is a non-root build (cc compiling a file over and over:
// each run is several processes committing memory) next to a dmesg loop
// (a denied, audited CAP_SYSLOG check 20 times a second).
const defaultWorkload = `printf 'int main(void) { return 0; }\n' > w.c
(while :; do cc -O2 -c -o w.o w.c; done) &
while :; do dmesg >/dev/null 2>&1; sleep 0.05; done`

// benchMixed records the workload, run as nobody in a fresh cgroup for d,
// with every recorder configuration at once, and reports what each shipped
// and what its check program cost in the kernel.
func benchMixed(m tracer.Method, d time.Duration, workload string, out io.Writer) (err error) {
	res, err := cgroup.NewResolver(cgroup.Options{})
	if err != nil {
		return fmt.Errorf("cgroup resolver: %w", err)
	}
	cg, err := res.Create("capprof-bench")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, cg.Remove()) }()
	dir, err := os.MkdirTemp("", "capprof-bench")
	if err != nil {
		return fmt.Errorf("workload directory: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chown(dir, 65534, 65534); err != nil {
		return fmt.Errorf("workload directory: %w", err)
	}
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return fmt.Errorf("enable BPF run-time statistics: %w", err)
	}
	defer stats.Close()

	recs := make([]*recording, 0, len(recorders))
	defer func() {
		for _, r := range recs {
			r.ctl.Close()
		}
	}()
	for _, rc := range recorders {
		cfg := recorderConfig(m, rc.mode, rc.audit)
		cfg.CgroupInclude = []string{cg.Rel}
		r, err := startRecording(cfg)
		if err != nil {
			return fmt.Errorf("%s: %w", rc.name, err)
		}
		recs = append(recs, r)
	}

	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", workload)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.File.Fd())}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start workload: %w", err)
	}
	time.Sleep(d)
	cg.Kill()
	_ = cmd.Wait()
	elapsed := time.Since(start).Seconds()

	fmt.Fprintf(out, "\nmixed workload, method %s, %s as nobody in one cgroup, recorded by all four configurations at once:\n  %s\n",
		m, d, strings.ReplaceAll(workload, "\n", "\n  "))
	fmt.Fprintf(out, "%-15s %12s %12s %14s %8s %14s %12s\n", "config", "records/s", "checks/s", "skipped/s", "lost", "kernel ns/run", "runs/s")
	for i, r := range recs {
		// Read before stop: closing the controller unloads the program.
		runs, total, rerr := r.ctl.CheckRuns()
		s, serr := r.stop()
		if err := errors.Join(rerr, serr); err != nil {
			return fmt.Errorf("%s: %w", recorders[i].name, err)
		}
		nsPerRun := 0.0
		if runs > 0 {
			nsPerRun = float64(total.Nanoseconds()) / float64(runs)
		}
		fmt.Fprintf(out, "%-15s %12.0f %12.0f %14.0f %8d %14.1f %12.0f\n", recorders[i].name,
			float64(s.Records)/elapsed, float64(s.Checks)/elapsed, float64(s.NoauditSkipped.Total())/elapsed,
			s.Lost, nsPerRun, float64(runs)/elapsed)
	}
	fmt.Fprintln(out, "runs: every check on the machine; the cgroup filter drops other processes' early")
	return nil
}
