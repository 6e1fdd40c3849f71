package main

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"

	"github.com/capprof/capprof/internal/tracer"
)

// floorSpec is an empty program (return 0) of the type method m attaches
// to cap_capable: what any BPF program on that attach point costs.
func floorSpec(m tracer.Method) (*ebpf.ProgramSpec, error) {
	spec := &ebpf.ProgramSpec{
		Name:         "floor",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		License:      "GPL", // tp_btf and fexit need a GPL-compatible program
	}
	switch m {
	case tracer.TPBTF:
		spec.Type, spec.AttachType, spec.AttachTo = ebpf.Tracing, ebpf.AttachTraceRawTp, "cap_capable"
	case tracer.Fexit:
		spec.Type, spec.AttachType, spec.AttachTo = ebpf.Tracing, ebpf.AttachTraceFExit, "cap_capable"
	case tracer.RawTracepoint:
		spec.Type = ebpf.RawTracepoint
	case tracer.Tracepoint:
		spec.Type = ebpf.TracePoint
	case tracer.Kprobe:
		spec.Type = ebpf.Kprobe
	default:
		return nil, fmt.Errorf("no floor program for method %q", m)
	}
	return spec, nil
}

// floor is the empty program, loaded and attached the way capprof's is.
type floor struct {
	prog  *ebpf.Program
	links []link.Link
}

func openFloor(m tracer.Method) (*floor, error) {
	spec, err := floorSpec(m)
	if err != nil {
		return nil, err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("remove memlock limit: %w", err)
	}
	prog, err := ebpf.NewProgram(spec)
	if err != nil {
		return nil, fmt.Errorf("load floor program: %w", err)
	}
	f := &floor{prog: prog}
	if f.links, err = tracer.AttachCheck(m, prog, nil); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Close detaches and unloads the program.
func (f *floor) Close() error {
	var errs []error
	for _, l := range f.links {
		errs = append(errs, l.Close())
	}
	errs = append(errs, f.prog.Close())
	return errors.Join(errs...)
}
