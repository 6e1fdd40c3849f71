//go:build integration

package main

import (
	"testing"

	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/tracer"
)

// TestFloorAttachesWhereCapprofDoes loads and attaches the empty program of
// every method capprof's own program attaches with on this kernel.
func TestFloorAttachesWhereCapprofDoes(t *testing.T) {
	prereq.RequireRoot(t)
	var working int
	for _, m := range tracer.Methods {
		if err := tracer.ProbeMethod(m); err != nil {
			t.Logf("%s: capprof cannot attach with it here, nor is its floor measured: %v", m, err)
			continue
		}
		working++
		f, err := openFloor(m)
		if err != nil {
			t.Errorf("%s: open floor: %v", m, err)
			continue
		}
		if err := f.Close(); err != nil {
			t.Errorf("%s: close floor: %v", m, err)
		}
	}
	if working == 0 {
		t.Fatal("no attach method works on this kernel")
	}
}
