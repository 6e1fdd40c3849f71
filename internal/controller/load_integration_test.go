//go:build integration

package controller_test

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/testenv"
)

// slowSink takes a while for every batch, as a writer behind a slow disk or
// a refusing exporter does.
type slowSink struct{ batches atomic.Int64 }

func (s *slowSink) Write([]check.Check) error {
	s.batches.Add(1)
	time.Sleep(20 * time.Millisecond)
	return nil
}

// TestRunEndsUnderSustainedLoad: a process that makes checks faster than the
// sink takes them keeps the ring buffer from ever running empty. Cancelling
// must still end Run: the reader once waited for an empty ring buffer
// before it looked at the context, and `capprof record --duration` did not
// return while a benchmark made checks on the host.
func TestRunEndsUnderSustainedLoad(t *testing.T) {
	prereq.RequireCommands(t, "perl")
	cg := testenv.NewCgroup(t)
	file := filepath.Join(t.TempDir(), "owned")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Root chowning a file to another user and back: a granted CAP_CHOWN
	// check per call, as fast as perl goes.
	load := cg.Command("perl", "-e", `while (1) { chown(1, 1, $ARGV[0]); chown(0, 0, $ARGV[0]) }`, file)
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = load.Process.Kill(); _ = load.Wait() })

	cfg := configIn(cg)
	// More than a raw batch: the reader never empties it while the sink is behind.
	cfg.Tracer.RingBufferSize = 4 << 20
	ctl, err := controller.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	sink := &slowSink{}
	done := make(chan error, 1)
	go func() { done <- ctl.Run(ctx, sink) }()

	// Cancel once the ring buffer has overflowed: the reader is behind for good.
	for deadline := time.Now().Add(time.Minute); ctl.Stats().Lost == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("the load filled no ring buffer in a minute (%d batches written)", sink.batches.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	// A bound for liveness, not a speed goal: ending takes a batch and
	// the drain of the ring buffer once detached.
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("Run did not return a minute after cancel while checks kept coming (%d batches written)", sink.batches.Load())
	}
}
