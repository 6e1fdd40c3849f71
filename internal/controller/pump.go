package controller

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/capprof/capprof/internal/tracer"
)

const (
	// rawBatches bounds the records copied out but not yet processed: when
	// processing falls behind, the pump waits and the ring buffer absorbs
	// the burst (and counts what it cannot).
	rawBatches    = 4
	rawBatchBytes = 256 << 10
	// maxRecordBytes is more than the largest record (an exec event).
	maxRecordBytes = 4 << 10
)

// rawBatch holds ring-buffer records copied out by the pump, each starting
// 8-byte aligned so that tracer.Decode can view it in place.
type rawBatch struct {
	data     []byte
	ends     []int
	deadline bool // sent at the reader's deadline: write what it completes
}

func newRawBatch() *rawBatch {
	return &rawBatch{data: make([]byte, 0, rawBatchBytes)}
}

func (b *rawBatch) add(raw []byte) {
	b.data = append(b.data, raw...)
	b.ends = append(b.ends, len(b.data))
	for len(b.data)%8 != 0 {
		b.data = append(b.data, 0)
	}
}

func (b *rawBatch) full() bool { return len(b.data) > cap(b.data)-maxRecordBytes }

func (b *rawBatch) reset() {
	b.data, b.ends, b.deadline = b.data[:0], b.ends[:0], false
}

func (b *rawBatch) records() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		start := 0
		for _, end := range b.ends {
			if !yield(b.data[start:end]) {
				return
			}
			start = (end + 7) &^ 7
		}
	}
}

// pump copies records out of the ring buffer into batches until ctx is
// done; then it detaches the programs, so that nothing is recorded after
// the final flush, and drains what is left.
func (c *Controller) pump(ctx context.Context, full chan<- *rawBatch, free <-chan *rawBatch) error {
	b := <-free
	send := func(deadline bool) {
		if len(b.ends) == 0 {
			return
		}
		b.deadline = deadline
		full <- b
		b = <-free
	}
	// readUntil reads until the ring buffer is empty past deadline, or a
	// batch is full and stop is closed: while producers outpace the sink
	// the ring buffer never runs empty, and the run must end all the same.
	readUntil := func(deadline func() time.Time, stop <-chan struct{}) error {
		for {
			raw, err := c.tracer.ReadRaw(deadline())
			if err != nil {
				send(true)
				if errors.Is(err, tracer.ErrTimeout) {
					return nil
				}
				return err
			}
			b.add(raw)
			if b.full() {
				send(false)
				select {
				case <-stop:
					return nil
				default:
				}
			}
		}
	}
	for ctx.Err() == nil {
		next := time.Now().Add(c.cfg.MaxBatchDelay)
		if err := readUntil(func() time.Time { return next }, ctx.Done()); err != nil {
			return err
		}
	}
	if err := c.tracer.Detach(); err != nil {
		c.log.Warn("detach", "error", err)
	}
	// Detached, the ring buffer holds a bounded rest: read all of it.
	return readUntil(time.Now, nil)
}
