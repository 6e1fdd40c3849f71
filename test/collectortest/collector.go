package collectortest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ReceiverReady is what the capabilities receiver logs once it has attached.
const ReceiverReady = "recording capability checks"

// CollectorReady is what a Collector logs once every component has started.
const CollectorReady = "Everything is ready"

// Collector is a running otelcol-capprof.
type Collector struct {
	cmd *exec.Cmd
	// Output is what it wrote to stdout and stderr so far.
	Output *SyncBuffer
	done   chan error
}

// SyncBuffer is a bytes.Buffer that a process writes while a test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Start runs otelcol-capprof with a config file (an absolute path, or one
// relative to the repository's root), extra environment and --set flags, and waits until
// its output says ready. Cleanup kills it if the test has not stopped it.
func Start(t testing.TB, ready, config string, env []string, sets ...string) *Collector {
	t.Helper()
	return StartConfigs(t, ready, []string{config}, env, sets...)
}

// StartConfigs is Start with several config files, merged by the Collector
// in order (a later file's maps extend and override an earlier one's).
func StartConfigs(t testing.TB, ready string, configs, env []string, sets ...string) *Collector {
	t.Helper()
	c, err := Launch(OtelcolCapprof(t), ready, configs, env, sets...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Kill)
	return c
}

// Launch is StartConfigs for programs other than tests (the benchmarks):
// it runs the otelcol-capprof binary bin and returns once its output says
// ready; the caller kills or terminates it.
func Launch(bin, ready string, configs, env []string, sets ...string) (*Collector, error) {
	var args []string
	for _, config := range configs {
		if !filepath.IsAbs(config) {
			config = filepath.Join(Repo(), config)
		}
		args = append(args, "--config="+config)
	}
	for _, s := range sets {
		args = append(args, "--set="+s)
	}
	c := &Collector{cmd: exec.Command(bin, args...), Output: &SyncBuffer{}, done: make(chan error, 1)}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stderr = c.Output
	c.cmd.Stdout = c.Output
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	deadline := time.After(60 * time.Second)
	for !strings.Contains(c.Output.String(), ready) {
		select {
		case err := <-c.done:
			c.done <- err
			return nil, fmt.Errorf("collector exited before %q: %v\n%s", ready, err, c.Output.String())
		case <-deadline:
			c.Kill()
			return nil, fmt.Errorf("collector did not say %q:\n%s", ready, c.Output.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return c, nil
}

// Pid is the collector's process id.
func (c *Collector) Pid() int { return c.cmd.Process.Pid }

// Kill kills the collector, if it still runs, and waits for it to exit.
func (c *Collector) Kill() {
	_ = c.cmd.Process.Kill()
	err := <-c.done
	c.done <- err
}

// Stop sends SIGTERM and waits: receivers flush and connectors emit what
// they hold on shutdown.
func (c *Collector) Stop(t testing.TB) {
	t.Helper()
	if err := c.Terminate(60 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// Terminate is Stop for programs other than tests: SIGTERM, then wait up to
// timeout for a clean exit. Afterwards ExitState says what the process used.
func (c *Collector) Terminate(timeout time.Duration) error {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.done:
		c.done <- err // a second Stop or the cleanup sees it too
		if err != nil {
			return fmt.Errorf("collector exited with %v:\n%s", err, c.Output.String())
		}
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("collector did not stop within %s:\n%s", timeout, c.Output.String())
	}
}

// ExitState is the exited process's state (its resource usage), nil while
// it runs.
func (c *Collector) ExitState() *os.ProcessState { return c.cmd.ProcessState }
