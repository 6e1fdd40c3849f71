package controller

import (
	"bytes"
	"slices"
	"testing"
	"unsafe"
)

func TestRawBatchKeepsRecordsAlignedAndInOrder(t *testing.T) {
	b := newRawBatch()
	in := [][]byte{
		bytes.Repeat([]byte{1}, 88),
		bytes.Repeat([]byte{2}, 13), // odd sizes are padded to the next 8
		bytes.Repeat([]byte{3}, 1),
		bytes.Repeat([]byte{4}, 1360),
	}
	for _, r := range in {
		b.add(r)
	}
	var out [][]byte
	for r := range b.records() {
		if uintptr(unsafe.Pointer(&r[0]))%8 != 0 {
			t.Errorf("record of %d bytes is not 8-byte aligned", len(r))
		}
		out = append(out, slices.Clone(r))
	}
	if !slices.EqualFunc(in, out, bytes.Equal) {
		t.Errorf("records changed in the batch: %d in, %d out", len(in), len(out))
	}
	b.reset()
	if len(b.data) != 0 || len(b.ends) != 0 || b.deadline {
		t.Errorf("reset left %d bytes, %d records, deadline %v", len(b.data), len(b.ends), b.deadline)
	}
}

// The pump adds a record only while full() is false: the largest record
// must then fit without growing the batch.
func TestRawBatchFullLeavesRoomForTheLargestRecord(t *testing.T) {
	b := newRawBatch()
	small := make([]byte, 88)
	for {
		b.add(small)
		if b.full() {
			break
		}
		if room := cap(b.data) - len(b.data); room < maxRecordBytes {
			t.Fatalf("not full with only %d bytes of room", room)
		}
	}
	b.reset()
	for len(b.data)+88 <= cap(b.data)-maxRecordBytes { // the last state full() calls not full
		b.add(small)
	}
	before := cap(b.data)
	b.add(make([]byte, maxRecordBytes-8))
	if cap(b.data) != before {
		t.Error("the largest record made a not-full batch grow")
	}
}
