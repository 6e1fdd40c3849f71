//go:build integration

package cgroup_test

import (
	"context"
	"errors"
	"testing"

	"github.com/capprof/capprof/internal/testenv"
)

func TestWaitEmpty(t *testing.T) {
	for _, tc := range []struct {
		name string
		// script leaves a process behind when it exits.
		script string
		// cancel ends the wait before the process does; then the cgroup
		// is killed and waited for again.
		cancel bool
	}{
		{name: "a worker outlives its parent", script: "sleep 0.5 & exit 0"},
		{name: "cancelled", script: "sleep 600 & exit 0", cancel: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cg := testenv.NewCgroup(t)
			// No output captured: the worker would hold the pipe open.
			if err := cg.Command("sh", "-c", tc.script).Run(); err != nil {
				t.Fatal(err)
			}
			if len(cg.PIDs()) == 0 {
				t.Fatal("the worker is not in the cgroup")
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancel {
				cancel()
				if err := cg.WaitEmpty(ctx); !errors.Is(err, context.Canceled) {
					t.Fatalf("wait = %v, want %v", err, context.Canceled)
				}
				cg.Kill()
			}
			defer cancel()
			if err := cg.WaitEmpty(context.Background()); err != nil {
				t.Fatal(err)
			}
			if pids := cg.PIDs(); len(pids) != 0 {
				t.Errorf("processes %v left after the wait", pids)
			}
		})
	}
}
