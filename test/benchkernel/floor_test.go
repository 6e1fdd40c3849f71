package main

import (
	"testing"

	"github.com/capprof/capprof/internal/tracer"
)

func TestFloorSpec(t *testing.T) {
	tests := []struct {
		name   string
		method tracer.Method
		ok     bool
	}{
		{name: "tp_btf", method: tracer.TPBTF, ok: true},
		{name: "raw_tracepoint", method: tracer.RawTracepoint, ok: true},
		{name: "tracepoint", method: tracer.Tracepoint, ok: true},
		{name: "fexit", method: tracer.Fexit, ok: true},
		{name: "kprobe", method: tracer.Kprobe, ok: true},
		{name: "auto is resolved before", method: tracer.Auto},
		{name: "unknown", method: "uprobe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := floorSpec(tt.method)
			if !tt.ok {
				if err == nil {
					t.Fatalf("floorSpec(%s) = %+v, want an error", tt.method, spec)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if spec.Type == 0 || len(spec.Instructions) != 2 {
				t.Errorf("floorSpec(%s) = %+v, want a typed empty program", tt.method, spec)
			}
		})
	}
}
