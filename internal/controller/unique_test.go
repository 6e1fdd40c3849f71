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

func value(count, firstNS uint64) bpf.CapprofDedupValue {
	return bpf.CapprofDedupValue{Count: count, FirstNs: firstNS}
}

func noContext() check.Check { return check.Check{Cap: 34, Syscall: 103} }

// step is one thing the kernel side shows the table: a key's first-check
// event (pid set) or a flush's reading of the map (count set).
type step struct {
	event   bool
	pid     uint32
	gen     uint64
	count   uint64
	missing bool // the flush does not find the key
	final   bool // the last flush
	// what the step must report: the event itself, or the flush's hits
	wantReport bool
	wantHits   uint64
}

// play runs steps against one key and returns the total reported hits.
func play(t *testing.T, u *uniqueTable, steps []step) uint64 {
	t.Helper()
	var total uint64
	for i, s := range steps {
		switch {
		case s.event:
			got := u.first(keyA, s.gen, chk(s.pid))
			if got != s.wantReport {
				t.Errorf("step %d: first() = %v, want %v", i, got, s.wantReport)
			}
			if got {
				total++
			}
		case s.missing:
			u.sweep()
		default:
			_, hits := u.observe(keyA, value(s.count, s.gen), s.final, noContext)
			if hits != s.wantHits {
				t.Errorf("step %d: observe() hits = %d, want %d", i, hits, s.wantHits)
			}
			total += hits
			u.sweep()
		}
	}
	return total
}

func TestUniqueTableReportsEveryHitOnce(t *testing.T) {
	for _, tc := range []struct {
		name        string
		steps       []step
		wantTotal   uint64
		wantEvicted uint64
	}{
		{
			name: "event, then flushes",
			steps: []step{
				{event: true, pid: 100, gen: 10, wantReport: true},
				{count: 5, gen: 10, wantHits: 4},
				{count: 5, gen: 10, wantHits: 0},
				{count: 9, gen: 10, wantHits: 4},
			},
			wantTotal: 9,
		},
		{
			name: "flush reads the key before its event: its hits wait for it",
			steps: []step{
				{count: 3, gen: 10, wantHits: 0},
				{event: true, pid: 100, gen: 10, wantReport: true},
				{count: 4, gen: 10, wantHits: 3},
			},
			wantTotal: 4,
		},
		{
			name: "lost event: hits reported after waiting",
			steps: []step{
				{count: 3, gen: 10, wantHits: 0},
				{count: 5, gen: 10, wantHits: 0},
				{count: 6, gen: 10, wantHits: 6},
				{event: true, pid: 100, gen: 10, wantReport: false},
				{count: 7, gen: 10, wantHits: 1},
			},
			wantTotal: 7,
		},
		{
			name: "the final flush does not wait",
			steps: []step{
				{count: 3, gen: 10, final: true, wantHits: 3},
			},
			wantTotal: 3,
		},
		{
			name: "evicted between flushes, re-inserted, event first",
			steps: []step{
				{event: true, pid: 100, gen: 10, wantReport: true},
				{count: 5, gen: 10, wantHits: 4},
				{event: true, pid: 200, gen: 20, wantReport: true},
				{count: 3, gen: 20, wantHits: 2},
			},
			wantTotal:   8,
			wantEvicted: 1,
		},
		{
			name: "re-inserted and flushed before its event arrives",
			steps: []step{
				{event: true, pid: 100, gen: 10, wantReport: true},
				{count: 5, gen: 10, wantHits: 4},
				{count: 7, gen: 20, wantHits: 0},
				{event: true, pid: 200, gen: 20, wantReport: true},
				{count: 8, gen: 20, wantHits: 7},
			},
			wantTotal:   13,
			wantEvicted: 1,
		},
		{
			name: "evicted and gone at a flush",
			steps: []step{
				{event: true, pid: 100, gen: 10, wantReport: true},
				{count: 5, gen: 10, wantHits: 4},
				{missing: true},
				{event: true, pid: 200, gen: 30, wantReport: true},
			},
			wantTotal:   6,
			wantEvicted: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUniqueTable()
			if got := play(t, u, tc.steps); got != tc.wantTotal {
				t.Errorf("reported %d hits in all, want %d", got, tc.wantTotal)
			}
			if u.evicted != tc.wantEvicted {
				t.Errorf("evicted = %d, want %d", u.evicted, tc.wantEvicted)
			}
		})
	}
}

func TestUniqueTableContext(t *testing.T) {
	u := newUniqueTable()
	e, _ := u.observe(keyA, value(2, 10), false, noContext)
	if e.hasContext || e.check.PID != 0 {
		t.Fatalf("a key read before its event has no process context: %+v", e)
	}
	u.first(keyA, 10, chk(100))
	if e := u.keys[keyA]; !e.hasContext || e.check.PID != 100 {
		t.Errorf("the event's context was not kept: %+v", e)
	}
	u.first(keyB, 11, chk(300))
	if e := u.keys[keyA]; e.check.PID != 100 {
		t.Errorf("another key's event changed this one: %+v", e)
	}
	if len(u.keys) != 2 {
		t.Errorf("table has %d keys, want 2", len(u.keys))
	}
}
