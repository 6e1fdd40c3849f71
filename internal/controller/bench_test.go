package controller

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"github.com/capprof/capprof/bpf"
	"github.com/capprof/capprof/internal/tracer"
)

// BenchmarkHandleCheck measures decoding a ring-buffer check record and
// attributing it to its process and container: the per-check user-space
// work before mapping.
func BenchmarkHandleCheck(b *testing.B) {
	c := newTestController(b)
	exec := bpf.CapprofExecEvent{Type: uint8(bpf.CapprofEventTypeEVENT_EXEC), Pid: 100, Ppid: 1, StartNs: 1e9, TimeNs: 2e9}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&exec.Filename[0])), len(exec.Filename)), "/usr/bin/dmesg")
	c.handle(tracer.Event{Exec: &exec})

	ev := bpf.CapprofCheckEvent{
		Type: uint8(bpf.CapprofEventTypeEVENT_CHECK), Cap: 34, Denied: 1, Audit: 1, Pid: 100, Tid: 100,
		Uid: 65534, Euid: 65534, NsIsHost: 1, Syscall: 103, CgroupId: c.containerCgroup, TimeNs: 3e9,
	}
	raw := make([]uint64, (binary.Size(ev)+7)/8)
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&raw[0])), len(raw)*8)
	if _, err := binary.Encode(buf, binary.NativeEndian, ev); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		e, err := tracer.Decode(buf)
		if err != nil {
			b.Fatal(err)
		}
		c.handle(e)
		if len(c.batch) == cap(c.batch) {
			c.batch = c.batch[:0]
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
}
