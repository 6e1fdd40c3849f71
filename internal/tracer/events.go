package tracer

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unsafe"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/capprof/capprof/bpf"
	"github.com/capprof/capprof/internal/caps"
)

// Event is one ring-buffer record; exactly one field is set. The pointers
// refer to the decoded bytes.
type Event struct {
	Check *bpf.CapprofCheckEvent
	Exec  *bpf.CapprofExecEvent
	Fork  *bpf.CapprofForkEvent
	Exit  *bpf.CapprofExitEvent
	// Cgroup is a cgroup2 directory's creation: its id and path.
	Cgroup *bpf.CapprofCgroupEvent
}

// ErrTimeout is returned by ReadRaw when the deadline passed with no record,
// or when Wake was called.
var ErrTimeout = errors.New("no event before deadline")

// ReadRaw returns the next ring-buffer record, waiting at most until
// deadline (the zero time waits forever). The program wakes the reader only
// once enough bytes wait, so the deadline is what bounds an event's delay.
// The record is valid until the next call: copy it to keep it.
func (t *Tracer) ReadRaw(deadline time.Time) ([]byte, error) {
	t.reader.SetDeadline(deadline)
	if err := t.reader.ReadInto(&t.rec); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, ringbuf.ErrFlushed) {
			return nil, ErrTimeout
		}
		return nil, fmt.Errorf("read ring buffer: %w", err)
	}
	return t.rec.RawSample, nil
}

// Decode views a record as its event, without copying: the event's pointer
// is valid as long as raw is. raw must be 8-byte aligned.
func Decode(raw []byte) (Event, error) {
	if len(raw) == 0 {
		return Event{}, fmt.Errorf("decode event: empty record")
	}
	var ev Event
	var err error
	switch bpf.CapprofEventType(raw[0]) {
	case bpf.CapprofEventTypeEVENT_CHECK:
		ev.Check, err = view[bpf.CapprofCheckEvent](raw)
	case bpf.CapprofEventTypeEVENT_EXEC:
		ev.Exec, err = view[bpf.CapprofExecEvent](raw)
	case bpf.CapprofEventTypeEVENT_FORK:
		ev.Fork, err = view[bpf.CapprofForkEvent](raw)
	case bpf.CapprofEventTypeEVENT_EXIT:
		ev.Exit, err = view[bpf.CapprofExitEvent](raw)
	case bpf.CapprofEventTypeEVENT_CGROUP_MKDIR:
		ev.Cgroup, err = view[bpf.CapprofCgroupEvent](raw)
	default:
		err = fmt.Errorf("unknown type %d", raw[0])
	}
	if err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	return ev, nil
}

// view reinterprets a record as the generated type T without copying: the
// kernel wrote it with this machine's layout and byte order (bpfel on a
// little-endian host), and the ring buffer aligns records to 8 bytes.
func view[T any](raw []byte) (*T, error) {
	var zero T
	if size := int(unsafe.Sizeof(zero)); len(raw) < size {
		return nil, fmt.Errorf("%T record is %d bytes, want %d", zero, len(raw), size)
	}
	return (*T)(unsafe.Pointer(&raw[0])), nil
}

// Losses counts the events the kernel could not reserve ring-buffer space
// for, summed over CPUs, since the program was loaded.
type Losses struct {
	Checks        uint64
	ProcessEvents uint64 // exec, fork, exit and cgroup creation: attribution, not checks
}

// Lost reads the kernel's loss counters.
func (t *Tracer) Lost() (Losses, error) {
	var l Losses
	for _, c := range []struct {
		kind bpf.CapprofLostKind
		n    *uint64
	}{{bpf.CapprofLostKindLOST_CHECKS, &l.Checks}, {bpf.CapprofLostKindLOST_PROCESS_EVENTS, &l.ProcessEvents}} {
		var perCPU []uint64
		if err := t.coll.Maps[bpf.CapprofMapLost].Lookup(uint32(c.kind), &perCPU); err != nil {
			return Losses{}, fmt.Errorf("read lost counter: %w", err)
		}
		for _, v := range perCPU {
			*c.n += v
		}
	}
	return l, nil
}

// CapCounts counts checks per capability id.
type CapCounts [64]uint64

// Total is the sum over all capabilities.
func (c *CapCounts) Total() uint64 {
	var n uint64
	for _, v := range c {
		n += v
	}
	return n
}

// String lists the counted capabilities by name, "CAP_SYS_ADMIN=18708 CAP_SYSLOG=3",
// or "none".
func (c *CapCounts) String() string {
	var b strings.Builder
	for id, n := range c {
		if n > 0 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%s=%d", caps.Name(id), n)
		}
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// NoauditSkipped reads how many NOAUDIT checks the kernel dropped per
// capability, summed over CPUs, since the program was loaded (Audited).
func (t *Tracer) NoauditSkipped() (CapCounts, error) {
	return t.capCounts(bpf.CapprofMapNoauditSkipped)
}

// capCounts sums a per-CPU array of counters per capability.
func (t *Tracer) capCounts(name string) (CapCounts, error) {
	var (
		counts CapCounts
		perCPU []uint64
	)
	m := t.coll.Maps[name]
	for id := range counts {
		if err := m.Lookup(uint32(id), &perCPU); err != nil {
			return CapCounts{}, fmt.Errorf("read %s counter: %w", name, err)
		}
		for _, v := range perCPU {
			counts[id] += v
		}
	}
	return counts, nil
}

// DedupCounts calls fn for every key in unique mode's map with its count
// since the key was inserted.
func (t *Tracer) DedupCounts(fn func(key bpf.CapprofDedupKey, value bpf.CapprofDedupValue)) error {
	var (
		key   bpf.CapprofDedupKey
		value bpf.CapprofDedupValue
	)
	it := t.coll.Maps[bpf.CapprofMapDedup].Iterate()
	for it.Next(&key, &value) {
		fn(key, value)
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("iterate dedup map: %w", err)
	}
	return nil
}

// CString returns the NUL-terminated string at the start of b.
func CString(b []int8) string { return string(cBytes(b)) }

// cBytes views a C char array as bytes, up to its first NUL.
func cBytes(b []int8) []byte {
	n := 0
	for n < len(b) && b[n] != 0 {
		n++
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// Comm is the name of the thread that made the check, as the kernel read
// it at check time: a view of e, not a copy (it is read on every check).
func Comm(e *bpf.CapprofCheckEvent) []byte { return cBytes(e.Comm[:]) }

// Args splits an exec event's NUL-separated argv.
func Args(e *bpf.CapprofExecEvent) []string {
	n := min(int(e.ArgsLen), len(e.Args))
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&e.Args[0])), n)
	var args []string
	start := 0
	for i, c := range raw {
		if c == 0 {
			args = append(args, string(raw[start:i]))
			start = i + 1
		}
	}
	if start < n {
		args = append(args, string(raw[start:n]))
	}
	return args
}

// Wake makes a blocked ReadRaw return what the ring buffer holds at once,
// then ErrTimeout: for prompt shutdown. After Close it returns ErrClosed.
func (t *Tracer) Wake() error {
	if err := t.reader.Flush(); err != nil {
		return fmt.Errorf("wake reader: %w", err)
	}
	return nil
}
