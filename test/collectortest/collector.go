package collectortest

import (
	"bytes"
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

// StartConfigs is Start with several config files, merged in order (later
// files win), as a pod passes several --config flags.
func StartConfigs(t testing.TB, ready string, configs []string, env []string, sets ...string) *Collector {
	t.Helper()
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
	c := &Collector{cmd: exec.Command(OtelcolCapprof(t), args...), Output: &SyncBuffer{}, done: make(chan error, 1)}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stderr = c.Output
	c.cmd.Stdout = c.Output
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.done
	})
	deadline := time.After(60 * time.Second)
	for !strings.Contains(c.Output.String(), ready) {
		select {
		case err := <-c.done:
			t.Fatalf("collector exited before %q: %v\n%s", ready, err, c.Output.String())
		case <-deadline:
			t.Fatalf("collector did not say %q:\n%s", ready, c.Output.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return c
}

// Stop sends SIGTERM and waits: receivers flush and connectors emit what
// they hold on shutdown.
func (c *Collector) Stop(t testing.TB) {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.done:
		c.done <- err // a second Stop or the cleanup sees it too
		if err != nil {
			t.Fatalf("collector exited with %v:\n%s", err, c.Output.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("collector did not stop:\n%s", c.Output.String())
	}
}
