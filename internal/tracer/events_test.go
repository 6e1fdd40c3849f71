package tracer

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/capprof/capprof/bpf"
)

// aligned copies b into memory aligned as the ring buffer aligns records
// (8 bytes), backed by a []uint64.
func aligned(b []byte) []byte {
	words := make([]uint64, (len(b)+7)/8)
	buf := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), len(words)*8)[:len(b)]
	copy(buf, b)
	return buf
}

// record encodes v as the kernel writes it: the host's layout and byte order.
func record(t testing.TB, v any) []byte {
	t.Helper()
	b, err := binary.Append(nil, binary.NativeEndian, v)
	if err != nil {
		t.Fatalf("encode %T: %v", v, err)
	}
	return aligned(b)
}

func int8s(s string, n int) []int8 {
	if len(s) > n {
		panic("string longer than its array")
	}
	out := make([]int8, n)
	for i := 0; i < len(s); i++ {
		out[i] = int8(s[i])
	}
	return out
}

var (
	checkEvent = bpf.CapprofCheckEvent{
		Type:        uint8(bpf.CapprofEventTypeEVENT_CHECK),
		Cap:         34,
		Denied:      1,
		Audit:       uint8(bpf.CapprofAuditClassAUDIT_NO),
		ForeignCred: 1,
		NsIsHost:    1,
		NewKey:      1,
		KeyAudit:    uint8(bpf.CapprofAuditClassAUDIT_UNKNOWN),
		Pid:         4242,
		Tid:         4243,
		Uid:         65534,
		Euid:        65533,
		NsLevel:     2,
		NsInum:      4026531837,
		NsOwnerUid:  100000,
		NsOwnerGid:  100001,
		Syscall:     -1,
		CgroupId:    0x1122334455667788,
		Effective:   0x000001ffffffffff,
		ExeIno:      1234567,
		ExeDev:      0x800001,
		TimeNs:      987654321012,
	}
	execEvent = func() bpf.CapprofExecEvent {
		e := bpf.CapprofExecEvent{
			Type:    uint8(bpf.CapprofEventTypeEVENT_EXEC),
			Pid:     4242,
			Ppid:    4100,
			Uid:     1000,
			Euid:    0,
			ArgsLen: uint32(len("dmesg\x00-T\x00")),
			StartNs: 123456789,
			TimeNs:  123999999,
		}
		copy(e.Filename[:], int8s("/usr/bin/dmesg", len(e.Filename)))
		copy(e.Args[:], int8s("dmesg\x00-T\x00", len(e.Args)))
		return e
	}()
	forkEvent = bpf.CapprofForkEvent{
		Type:      uint8(bpf.CapprofEventTypeEVENT_FORK),
		ParentPid: 4100,
		ChildPid:  4242,
		StartNs:   123456789,
	}
	exitEvent = bpf.CapprofExitEvent{
		Type:     uint8(bpf.CapprofEventTypeEVENT_EXIT),
		Pid:      4242,
		TimeNs:   124000000,
		ExitCode: 3 << 8, // exit(3)
	}
	cgroupEvent = func() bpf.CapprofCgroupEvent {
		e := bpf.CapprofCgroupEvent{Type: uint8(bpf.CapprofEventTypeEVENT_CGROUP_MKDIR), CgroupId: 9876}
		copy(e.Path[:], int8s("/kubepods/besteffort/pod1/abc", len(e.Path)))
		return e
	}()
)

// variant names the field of ev that is set, or lists them when not one is.
func variant(ev Event) string {
	var set []string
	if ev.Check != nil {
		set = append(set, "check")
	}
	if ev.Exec != nil {
		set = append(set, "exec")
	}
	if ev.Fork != nil {
		set = append(set, "fork")
	}
	if ev.Exit != nil {
		set = append(set, "exit")
	}
	if ev.Cgroup != nil {
		set = append(set, "cgroup")
	}
	if len(set) == 1 {
		return set[0]
	}
	return "[" + strings.Join(set, ",") + "]"
}

// TestRecordSizes pins the generated layouts that decode relies on: a change
// here means the C structs changed and bpf2go must be rerun.
func TestRecordSizes(t *testing.T) {
	tests := []struct {
		name string
		got  uintptr
		want uintptr
	}{
		{name: "check_event", got: unsafe.Sizeof(bpf.CapprofCheckEvent{}), want: 104},
		{name: "exec_event", got: unsafe.Sizeof(bpf.CapprofExecEvent{}), want: 1368},
		{name: "fork_event", got: unsafe.Sizeof(bpf.CapprofForkEvent{}), want: 72},
		{name: "exit_event", got: unsafe.Sizeof(bpf.CapprofExitEvent{}), want: 24},
		{name: "cgroup_event", got: unsafe.Sizeof(bpf.CapprofCgroupEvent{}), want: 528},
		{name: "addr_range", got: unsafe.Sizeof(AddrRange{}), want: 24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("size %d, want %d", tt.got, tt.want)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name  string
		raw   []byte
		want  string // the variant set
		check func(t *testing.T, ev Event)
	}{
		{
			name: "check",
			raw:  record(t, checkEvent),
			want: "check",
			check: func(t *testing.T, ev Event) {
				if *ev.Check != checkEvent {
					t.Errorf("check = %+v, want %+v", *ev.Check, checkEvent)
				}
			},
		},
		{
			name: "exec",
			raw:  record(t, execEvent),
			want: "exec",
			check: func(t *testing.T, ev Event) {
				if *ev.Exec != execEvent {
					t.Errorf("exec = %+v, want %+v", *ev.Exec, execEvent)
				}
				if got := CString(ev.Exec.Filename[:]); got != "/usr/bin/dmesg" {
					t.Errorf("filename = %q", got)
				}
				if got := Args(ev.Exec); !slices.Equal(got, []string{"dmesg", "-T"}) {
					t.Errorf("args = %q", got)
				}
			},
		},
		{
			name: "fork",
			raw:  record(t, forkEvent),
			want: "fork",
			check: func(t *testing.T, ev Event) {
				if *ev.Fork != forkEvent {
					t.Errorf("fork = %+v, want %+v", *ev.Fork, forkEvent)
				}
			},
		},
		{
			name: "exit",
			raw:  record(t, exitEvent),
			want: "exit",
			check: func(t *testing.T, ev Event) {
				if *ev.Exit != exitEvent {
					t.Errorf("exit = %+v, want %+v", *ev.Exit, exitEvent)
				}
			},
		},
		{
			name: "cgroup",
			raw:  record(t, cgroupEvent),
			want: "cgroup",
			check: func(t *testing.T, ev Event) {
				if *ev.Cgroup != cgroupEvent {
					t.Errorf("cgroup = %+v, want %+v", *ev.Cgroup, cgroupEvent)
				}
				if got := CString(ev.Cgroup.Path[:]); got != "/kubepods/besteffort/pod1/abc" {
					t.Errorf("path = %q", got)
				}
			},
		},
		{
			name: "record longer than its type",
			raw:  aligned(append(record(t, exitEvent), 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0)),
			want: "exit",
			check: func(t *testing.T, ev Event) {
				if *ev.Exit != exitEvent {
					t.Errorf("exit = %+v, want %+v", *ev.Exit, exitEvent)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Decode(tt.raw)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got := variant(ev); got != tt.want {
				t.Fatalf("decoded a %s event, want %s", got, tt.want)
			}
			tt.check(t, ev)
		})
	}
}

// TestDecodeDoesNotCopy checks the documented aliasing: the event points
// into the record, so it is only valid until the next Read.
func TestDecodeDoesNotCopy(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		ptr  func(Event) unsafe.Pointer
	}{
		{name: "check", raw: record(t, checkEvent), ptr: func(e Event) unsafe.Pointer { return unsafe.Pointer(e.Check) }},
		{name: "exec", raw: record(t, execEvent), ptr: func(e Event) unsafe.Pointer { return unsafe.Pointer(e.Exec) }},
		{name: "fork", raw: record(t, forkEvent), ptr: func(e Event) unsafe.Pointer { return unsafe.Pointer(e.Fork) }},
		{name: "exit", raw: record(t, exitEvent), ptr: func(e Event) unsafe.Pointer { return unsafe.Pointer(e.Exit) }},
		{name: "cgroup", raw: record(t, cgroupEvent), ptr: func(e Event) unsafe.Pointer { return unsafe.Pointer(e.Cgroup) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Decode(tt.raw)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if tt.ptr(ev) != unsafe.Pointer(&tt.raw[0]) {
				t.Errorf("event does not point at the record")
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	check := record(t, checkEvent)
	exec := record(t, execEvent)
	tests := []struct {
		name    string
		raw     []byte
		wantErr string
	}{
		{name: "empty record", raw: aligned(nil), wantErr: "decode event: empty record"},
		{name: "nil record", raw: nil, wantErr: "decode event: empty record"},
		{name: "type zero", raw: aligned(make([]byte, 104)), wantErr: "decode event: unknown type 0"},
		{name: "type past the last", raw: aligned(append([]byte{6}, make([]byte, 1400)...)), wantErr: "decode event: unknown type 6"},
		{name: "type 255", raw: aligned([]byte{255}), wantErr: "decode event: unknown type 255"},
		{name: "check one byte short", raw: check[:len(check)-1], wantErr: "bpf.CapprofCheckEvent record is 103 bytes, want 104"},
		{name: "check type byte only", raw: check[:1], wantErr: "bpf.CapprofCheckEvent record is 1 bytes, want 104"},
		{name: "exec the size of a check", raw: aligned(append([]byte{byte(bpf.CapprofEventTypeEVENT_EXEC)}, check[1:]...)),
			wantErr: "bpf.CapprofExecEvent record is 104 bytes, want 1368"},
		{name: "exec cut in its arguments", raw: exec[:1000], wantErr: "bpf.CapprofExecEvent record is 1000 bytes, want 1368"},
		{name: "fork the size of an exit", raw: aligned(append([]byte{byte(bpf.CapprofEventTypeEVENT_FORK)}, make([]byte, 15)...)),
			wantErr: "bpf.CapprofForkEvent record is 16 bytes, want 72"},
		{name: "exit short", raw: record(t, exitEvent)[:8], wantErr: "bpf.CapprofExitEvent record is 8 bytes, want 24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Decode(tt.raw)
			if err == nil {
				t.Fatalf("decode = %s event, want an error", variant(ev))
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantErr)
			}
			if ev != (Event{}) {
				t.Errorf("event %+v returned with the error", ev)
			}
		})
	}
}

func TestArgs(t *testing.T) {
	long := strings.Repeat("x", 1000) + "\x00" + strings.Repeat("y", 23)
	tests := []struct {
		name    string
		data    string
		argsLen uint32
		want    []string
	}{
		{name: "trailing NUL", data: "ls\x00-l\x00/tmp\x00", argsLen: 11, want: []string{"ls", "-l", "/tmp"}},
		{name: "no trailing NUL", data: "ls\x00-l", argsLen: 5, want: []string{"ls", "-l"}},
		{name: "single argument", data: "true\x00", argsLen: 5, want: []string{"true"}},
		{name: "empty argument kept", data: "printf\x00\x00x\x00", argsLen: 10, want: []string{"printf", "", "x"}},
		{name: "empty last argument", data: "echo\x00\x00", argsLen: 6, want: []string{"echo", ""}},
		{name: "length shorter than the data", data: "ls\x00-l\x00", argsLen: 3, want: []string{"ls"}},
		{name: "empty", data: "", argsLen: 0, want: nil},
		{name: "zero length ignores the data", data: "ls\x00", argsLen: 0, want: nil},
		{name: "length larger than the array", data: long, argsLen: 4096,
			want: []string{strings.Repeat("x", 1000), strings.Repeat("y", 23)}},
		{name: "array full without a NUL", data: strings.Repeat("a", 1024), argsLen: 1024,
			want: []string{strings.Repeat("a", 1024)}},
		{name: "non-UTF-8 bytes kept", data: "cat\x00\xff\xfe\x00", argsLen: 7, want: []string{"cat", "\xff\xfe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e bpf.CapprofExecEvent
			copy(e.Args[:], int8s(tt.data, len(e.Args)))
			e.ArgsLen = tt.argsLen
			got := Args(&e)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Args = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCString(t *testing.T) {
	tests := []struct {
		name string
		in   []int8
		want string
	}{
		{name: "terminated", in: int8s("/usr/bin/dmesg", 256), want: "/usr/bin/dmesg"},
		{name: "stops at the first NUL", in: []int8{'a', 'b', 0, 'c', 0}, want: "ab"},
		{name: "no NUL uses the whole array", in: []int8{'a', 'b', 'c'}, want: "abc"},
		{name: "leading NUL", in: []int8{0, 'a'}, want: ""},
		{name: "empty slice", in: []int8{}, want: ""},
		{name: "nil slice", in: nil, want: ""},
		{name: "high bytes", in: []int8{-61, -87, 0}, want: "é"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CString(tt.in); got != tt.want {
				t.Errorf("CString = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestComm(t *testing.T) {
	tests := []struct {
		name string
		comm string
		want string
	}{
		{name: "runc stage", comm: "runc:[2:INIT]", want: "runc:[2:INIT]"},
		{name: "full 15 characters", comm: "memfd:runc_clon", want: "memfd:runc_clon"},
		{name: "unset", comm: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := checkEvent
			copy(e.Comm[:], int8s(tt.comm, len(e.Comm)))
			if got := string(Comm(&e)); got != tt.want {
				t.Errorf("Comm = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCStringCopies checks the string survives the buffer being reused, as
// the ring-buffer reader reuses its record.
func TestCStringCopies(t *testing.T) {
	tests := []struct {
		name string
		conv func(b []int8) []string
	}{
		{name: "CString", conv: func(b []int8) []string { return []string{CString(b)} }},
		{name: "Args", conv: func(b []int8) []string {
			var e bpf.CapprofExecEvent
			copy(e.Args[:], b)
			e.ArgsLen = uint32(len(b))
			got := Args(&e)
			for i := range e.Args {
				e.Args[i] = 'z'
			}
			return got
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := int8s("abc", 3)
			got := tt.conv(buf)
			for i := range buf {
				buf[i] = 'z'
			}
			if !slices.Equal(got, []string{"abc"}) {
				t.Errorf("got %q after the buffer changed, want [abc]", got)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, v := range []any{checkEvent, execEvent, forkEvent, exitEvent} {
		b, err := binary.Append(nil, binary.NativeEndian, v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(b[:1])
	}
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{255, 1, 2, 3})
	sizes := map[string]int{
		"check": int(unsafe.Sizeof(bpf.CapprofCheckEvent{})),
		"exec":  int(unsafe.Sizeof(bpf.CapprofExecEvent{})),
		"fork":  int(unsafe.Sizeof(bpf.CapprofForkEvent{})),
		"exit":  int(unsafe.Sizeof(bpf.CapprofExitEvent{})),
	}
	types := map[byte]string{
		byte(bpf.CapprofEventTypeEVENT_CHECK): "check",
		byte(bpf.CapprofEventTypeEVENT_EXEC):  "exec",
		byte(bpf.CapprofEventTypeEVENT_FORK):  "fork",
		byte(bpf.CapprofEventTypeEVENT_EXIT):  "exit",
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		raw := aligned(data)
		ev, err := Decode(raw)
		if err != nil {
			if ev != (Event{}) {
				t.Fatalf("event %+v returned with error %v", ev, err)
			}
			return
		}
		kind := variant(ev)
		size, ok := sizes[kind]
		if !ok {
			t.Fatalf("decode returned %s", kind)
		}
		if types[raw[0]] != kind {
			t.Fatalf("type byte %d decoded as %s", raw[0], kind)
		}
		if len(raw) < size {
			t.Fatalf("%s decoded from %d bytes, want at least %d", kind, len(raw), size)
		}
		// Touch every field: the view must lie within the record.
		switch kind {
		case "check":
			_ = *ev.Check
		case "exec":
			_ = CString(ev.Exec.Filename[:])
			_ = Args(ev.Exec)
		case "fork":
			_ = *ev.Fork
		case "exit":
			_ = *ev.Exit
		}
	})
}

func TestCapCountsString(t *testing.T) {
	tests := []struct {
		name   string
		counts map[int]uint64
		want   string
	}{
		{name: "none", want: "none"},
		{name: "one", counts: map[int]uint64{21: 18708}, want: "CAP_SYS_ADMIN=18708"},
		{name: "in id order", counts: map[int]uint64{34: 3, 0: 1, 21: 2}, want: "CAP_CHOWN=1 CAP_SYS_ADMIN=2 CAP_SYSLOG=3"},
		{name: "unknown id", counts: map[int]uint64{63: 5}, want: "CAP_63=5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c CapCounts
			var total uint64
			for id, n := range tt.counts {
				c[id] = n
				total += n
			}
			if got := c.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if got := c.Total(); got != total {
				t.Errorf("Total() = %d, want %d", got, total)
			}
		})
	}
}
