package tracer

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"

	"github.com/capprof/capprof/bpf"
)

// floorPrograms names the empty program of each method in floor.bpf.c.
var floorPrograms = map[Method]string{
	TPBTF:         bpf.FloorProgFloorTpBtf,
	RawTracepoint: bpf.FloorProgFloorRawTp,
	Tracepoint:    bpf.FloorProgFloorTp,
	Fexit:         bpf.FloorProgFloorFexit,
	Kprobe:        bpf.FloorProgFloorKprobe,
}

// Floor is an empty program attached to cap_capable: what any BPF program
// on that attach point costs. Benchmarks measure capprof against it.
type Floor struct {
	prog  *ebpf.Program
	links []link.Link
}

// OpenFloor loads and attaches the empty program of method m.
func OpenFloor(m Method) (*Floor, error) {
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("remove memlock limit: %w", err)
	}
	name, ok := floorPrograms[m]
	if !ok {
		return nil, fmt.Errorf("no floor program for method %q", m)
	}
	spec, err := bpf.LoadFloor()
	if err != nil {
		return nil, fmt.Errorf("load floor spec: %w", err)
	}
	prog, err := ebpf.NewProgram(spec.Programs[name])
	if err != nil {
		return nil, fmt.Errorf("load floor program: %w", err)
	}
	f := &Floor{prog: prog}
	f.links, err = attachCheck(m, prog, nil)
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Close detaches and unloads the program.
func (f *Floor) Close() error {
	var errs []error
	for _, l := range f.links {
		errs = append(errs, l.Close())
	}
	errs = append(errs, f.prog.Close())
	return errors.Join(errs...)
}
