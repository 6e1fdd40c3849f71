package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/tracer"
)

// childTimeout bounds one workload; under TCG emulation a few hundred
// process starts take tens of seconds.
const childTimeout = 5 * time.Minute

// collector is a Sink that keeps every check.
type collector struct {
	mu     sync.Mutex
	checks []check.Check
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

// start opens a controller with method m and mode, restricted by filter
// (a pid tree or a cgroup), and runs it in the background.
func (k *checker) start(m tracer.Method, mode tracer.Mode, filter func(*controller.Config)) (*recording, error) {
	cfg := controller.DefaultConfig()
	cfg.Tracer.Method = m
	cfg.Tracer.Mode = mode
	cfg.FlushInterval = 200 * time.Millisecond
	cfg.MaxBatchDelay = 200 * time.Millisecond
	cfg.Logger = k.log.With("method", m, "mode", mode)
	filter(&cfg)
	ctl, err := controller.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("start %s recording: %w", mode, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &recording{ctl: ctl, sink: &collector{}, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- ctl.Run(ctx, r.sink) }()
	return r, nil
}

// stop ends the recording (Run detaches, drains the ring buffer and makes
// the final flush) and returns everything it wrote.
func (r *recording) stop() ([]check.Check, controller.Stats, error) {
	r.cancel()
	err := <-r.done
	stats := r.ctl.Stats()
	if cerr := r.ctl.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	if err != nil {
		return nil, stats, fmt.Errorf("run: %w", err)
	}
	r.sink.mu.Lock()
	defer r.sink.mu.Unlock()
	return r.sink.checks, stats, nil
}

func pidTree(pid uint32) func(*controller.Config) {
	return func(c *controller.Config) { c.PIDTree = pid }
}

func inCgroup(rel string) func(*controller.Config) {
	return func(c *controller.Config) { c.CgroupInclude = []string{rel} }
}

// child is a workload started held: it runs when released, so that a
// recording can be set up on its pid first.
type child struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	stdin  io.WriteCloser
	stderr bytes.Buffer
}

// startChild starts this binary with -child name as uid and gid 65534, or
// as root when asRoot; extra flags go to the child.
func (k *checker) startChild(name string, asRoot bool, extra ...string) (*child, error) {
	ctx, cancel := context.WithTimeout(context.Background(), childTimeout)
	args := append([]string{"-child", name, "-wait"}, extra...)
	c := &child{cmd: exec.CommandContext(ctx, k.exe, args...), cancel: cancel}
	c.cmd.Stderr = &c.stderr
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if !asRoot {
		c.cmd.SysProcAttr.Credential = &syscall.Credential{Uid: nobody, Gid: nobody}
	}
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		cancel()
		return nil, fmt.Errorf("child %s: %w", name, err)
	}
	if err := c.cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start child %s: %w", name, err)
	}
	return c, nil
}

func (c *child) pid() uint32 { return uint32(c.cmd.Process.Pid) }

// release lets the workload run and waits for it to end.
func (c *child) release() error {
	defer c.cancel()
	_, werr := io.WriteString(c.stdin, "go\n")
	c.stdin.Close()
	if err := c.cmd.Wait(); err != nil {
		return fmt.Errorf("child %s: %w: %s", strings.Join(c.cmd.Args[1:3], " "), errors.Join(err, werr),
			strings.TrimSpace(c.stderr.String()))
	}
	return nil
}

// kill ends a child that will not be released.
func (c *child) kill() {
	c.cancel()
	c.stdin.Close()
	_ = c.cmd.Wait()
}

// record runs the held child c under the recordings made by starts, one
// per entry, and returns what each recorded.
// streamOf runs a child scenario recorded in stream mode with method m,
// only its process tree, and returns the child and its checks.
func (k *checker) streamOf(m tracer.Method, name string, asRoot bool) (*child, []check.Check, error) {
	c, err := k.startChild(name, asRoot)
	if err != nil {
		return nil, nil, err
	}
	all, _, err := k.record(c, k.recorder(m, tracer.Stream, pidTree(c.pid())))
	if err != nil {
		return nil, nil, err
	}
	return c, all[0], nil
}

func (k *checker) record(c *child, starts ...func() (*recording, error)) ([][]check.Check, []controller.Stats, error) {
	var recs []*recording
	stopAll := func() ([][]check.Check, []controller.Stats, error) {
		var (
			all   [][]check.Check
			stats []controller.Stats
			errs  []error
		)
		for i := len(recs) - 1; i >= 0; i-- {
			checks, s, err := recs[i].stop()
			all = append([][]check.Check{checks}, all...)
			stats = append([]controller.Stats{s}, stats...)
			errs = append(errs, err)
		}
		return all, stats, errors.Join(errs...)
	}
	for _, start := range starts {
		r, err := start()
		if err != nil {
			c.kill()
			_, _, serr := stopAll()
			return nil, nil, errors.Join(err, serr)
		}
		recs = append(recs, r)
	}
	werr := c.release()
	all, stats, err := stopAll()
	if err := errors.Join(werr, err); err != nil {
		return nil, nil, err
	}
	for i, s := range stats {
		if s.Lost != 0 || s.Undecodable != 0 {
			return nil, nil, fmt.Errorf("recording %d: %d events lost, %d undecodable", i, s.Lost, s.Undecodable)
		}
	}
	return all, stats, nil
}

func (k *checker) recorder(m tracer.Method, mode tracer.Mode, filter func(*controller.Config)) func() (*recording, error) {
	return func() (*recording, error) { return k.start(m, mode, filter) }
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

func describe(c *check.Check) string {
	return fmt.Sprintf("{cap %d %s audit=%d pid %d ppid %d uid %d euid %d userns %+v syscall %s(%d) exe %q cgroup %q container %+v effective %#x}",
		c.Cap, c.Verdict(), c.Audit, c.PID, c.Process.PPID, c.UID, c.EUID, c.UserNS, c.SyscallName, c.Syscall,
		c.Process.ExecutablePath, c.CgroupPath, c.Container, uint64(c.Effective))
}
