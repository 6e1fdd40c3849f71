package controller

import (
	"testing"

	"github.com/capprof/capprof/bpf"
	"github.com/capprof/capprof/internal/check"
)

var (
	keyA = bpf.CapprofDedupKey{CgroupId: 5555, ExeIno: 1234567, ExeDev: 0x800001, Syscall: 103, Cap: 34, Denied: 1}
	keyB = bpf.CapprofDedupKey{CgroupId: 5555, ExeIno: 1234567, ExeDev: 0x800001, Syscall: 103, Cap: 34, Denied: 0}
)

// chk is a check told apart from others by its pid.
func chk(pid uint32) check.Check {
	return check.Check{Cap: 34, PID: pid, TID: pid, Count: 1, Syscall: 103}
}

func TestUniqueTableFirst(t *testing.T) {
	tests := []struct {
		name       string
		before     map[bpf.CapprofDedupKey]uniqueEntry // the table before the call
		key        bpf.CapprofDedupKey
		check      check.Check
		wantReport bool
		want       uniqueEntry // the key's entry after the call
	}{
		{
			name:       "new key is reported",
			key:        keyA,
			check:      chk(100),
			wantReport: true,
			want:       uniqueEntry{check: chk(100), reported: 1, hasContext: true},
		},
		{
			name: "key a flush created gets its context and is not reported again",
			before: map[bpf.CapprofDedupKey]uniqueEntry{
				keyA: {check: check.Check{Cap: 34, Syscall: 103}, reported: 7, seen: true},
			},
			key:        keyA,
			check:      chk(100),
			wantReport: false,
			want:       uniqueEntry{check: chk(100), reported: 7, hasContext: true, seen: true},
		},
		{
			name: "evicted and re-inserted key is reported and counts from 1",
			before: map[bpf.CapprofDedupKey]uniqueEntry{
				keyA: {check: chk(100), reported: 42, hasContext: true, seen: true},
			},
			key:        keyA,
			check:      chk(200),
			wantReport: true,
			want:       uniqueEntry{check: chk(200), reported: 1, hasContext: true, seen: true},
		},
		{
			name: "another key's entry does not matter",
			before: map[bpf.CapprofDedupKey]uniqueEntry{
				keyB: {check: chk(100), reported: 42, hasContext: true, seen: true},
			},
			key:        keyA,
			check:      chk(200),
			wantReport: true,
			want:       uniqueEntry{check: chk(200), reported: 1, hasContext: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUniqueTable()
			for k, e := range tt.before {
				u.keys[k] = &e
			}
			if got := u.first(tt.key, tt.check); got != tt.wantReport {
				t.Errorf("first() = %v, want %v", got, tt.wantReport)
			}
			e, ok := u.keys[tt.key]
			if !ok {
				t.Fatalf("key missing from the table after first()")
			}
			assertEntry(t, e, tt.want)
			// Other keys are untouched.
			for k, before := range tt.before {
				if k == tt.key {
					continue
				}
				assertEntry(t, u.keys[k], before)
			}
			want := len(tt.before)
			if _, existed := tt.before[tt.key]; !existed {
				want++
			}
			if len(u.keys) != want {
				t.Errorf("table has %d keys, want %d", len(u.keys), want)
			}
		})
	}
}

func assertEntry(t *testing.T, got *uniqueEntry, want uniqueEntry) {
	t.Helper()
	if got.check.PID != want.check.PID || got.reported != want.reported ||
		got.hasContext != want.hasContext || got.seen != want.seen {
		t.Errorf("entry = {pid %d reported %d hasContext %v seen %v}, want {pid %d reported %d hasContext %v seen %v}",
			got.check.PID, got.reported, got.hasContext, got.seen,
			want.check.PID, want.reported, want.hasContext, want.seen)
	}
}

// TestUniqueTableFirstSequence plays a key's life: a flush reads the
// kernel's count before the first-check event, the event brings the
// context, then the key is evicted and comes back.
func TestUniqueTableFirstSequence(t *testing.T) {
	u := newUniqueTable()
	// What flushUnique does for a key it has no entry for.
	u.keys[keyA] = &uniqueEntry{check: check.Check{Cap: 34}, reported: 3, seen: true}

	steps := []struct {
		name         string
		pid          uint32
		wantReport   bool
		wantReported uint64
	}{
		{name: "first-check event after the flush", pid: 100, wantReport: false, wantReported: 3},
		{name: "key back after an eviction", pid: 200, wantReport: true, wantReported: 1},
		{name: "and once more", pid: 300, wantReport: true, wantReported: 1},
	}
	for _, s := range steps {
		if got := u.first(keyA, chk(s.pid)); got != s.wantReport {
			t.Errorf("%s: first() = %v, want %v", s.name, got, s.wantReport)
		}
		e := u.keys[keyA]
		if e.check.PID != s.pid || e.reported != s.wantReported || !e.hasContext {
			t.Errorf("%s: entry {pid %d reported %d hasContext %v}, want {pid %d reported %d hasContext true}",
				s.name, e.check.PID, e.reported, e.hasContext, s.pid, s.wantReported)
		}
	}
	if len(u.keys) != 1 {
		t.Errorf("table has %d keys, want 1", len(u.keys))
	}
}
