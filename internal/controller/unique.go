package controller

import (
	"time"

	"github.com/capprof/capprof/bpf"
	"github.com/capprof/capprof/internal/check"
)

// uniqueTable follows the kernel's dedup map: per key, the context of its
// first check and how many of its hits were already reported, so each
// flush reports only the hits since the last one.
//
// The kernel's LRU may evict a key and insert it again later; the value's
// first_ns (the insertion time, also the time of the key's first-check
// event) tells the new generation from the old, whose unflushed hits are
// lost and counted as an eviction.
type uniqueTable struct {
	keys    map[bpf.CapprofDedupKey]*uniqueEntry
	evicted uint64
}

type uniqueEntry struct {
	check      check.Check
	gen        uint64 // first_ns of the kernel entry this follows
	reported   uint64 // hits of this generation already reported
	hasContext bool   // the generation's first-check event arrived
	waited     int    // flushes that found the key without its event
	seen       bool   // present in the kernel map at the current flush
}

// contextWait is how many flushes a key's hits wait for its first-check
// event (still in the pump, or being processed) before they are reported
// with the key's own context: the event was lost.
const contextWait = 2

func newUniqueTable() *uniqueTable {
	return &uniqueTable{keys: make(map[bpf.CapprofDedupKey]*uniqueEntry)}
}

// first takes a key's first-check event, made at gen, and says whether to
// report it: the kernel counted that check as the generation's first hit.
func (u *uniqueTable) first(key bpf.CapprofDedupKey, gen uint64, chk check.Check) (report bool) {
	e := u.keys[key]
	if e != nil && e.gen == gen {
		// A flush read this generation before its event arrived.
		if e.hasContext {
			return false
		}
		e.check, e.hasContext = chk, true
		if e.reported > 0 {
			return false // the flush gave up waiting and reported the hits
		}
		e.reported = 1
		return true
	}
	if e != nil {
		u.evicted++
	}
	u.keys[key] = &uniqueEntry{check: chk, gen: gen, reported: 1, hasContext: true, seen: e != nil && e.seen}
	return true
}

// observe takes a flush's reading of a key and returns its entry and the
// hits to report (0 for none). The hits of a key whose first-check event
// has not arrived wait for it, up to contextWait flushes (none at the final
// flush); context builds the record of a key met here first, used if they
// are reported without it.
func (u *uniqueTable) observe(key bpf.CapprofDedupKey, value bpf.CapprofDedupValue, final bool, context func() check.Check) (*uniqueEntry, uint64) {
	e := u.keys[key]
	switch {
	case e == nil:
		e = &uniqueEntry{check: context(), gen: value.FirstNs}
		u.keys[key] = e
	case e.gen != value.FirstNs:
		// Re-inserted since the last flush: a new generation.
		u.evicted++
		*e = uniqueEntry{check: e.check, gen: value.FirstNs}
	}
	e.seen = true
	if !e.hasContext {
		if e.waited++; e.waited <= contextWait && !final {
			return e, 0
		}
	}
	if value.Count <= e.reported {
		return e, 0
	}
	hits := value.Count - e.reported
	e.reported = value.Count
	return e, hits
}

// sweep forgets the keys the last flush did not find: the kernel evicted them.
func (u *uniqueTable) sweep() {
	for key, e := range u.keys {
		if !e.seen {
			delete(u.keys, key)
			u.evicted++
		}
		e.seen = false
	}
}

// flushUnique reads the kernel's counts and queues a record per key whose
// count grew since the last flush, stamped with the flush time. The final
// flush reports every count, whether its key's context arrived or not.
func (c *Controller) flushUnique(final bool) error {
	now := time.Now()
	err := c.tracer.DedupCounts(func(key bpf.CapprofDedupKey, value bpf.CapprofDedupValue) {
		if value.Count == 0 {
			return // a NOAUDIT key kept for its classification only (tracer.Audited)
		}
		e, hits := c.unique.observe(key, value, final, func() check.Check { return c.checkOfKey(key, value) })
		if hits == 0 {
			return
		}
		chk := e.check
		chk.Time = now
		chk.Count = hits
		c.emit(chk)
	})
	if err != nil {
		// A partial reading must not make present keys look evicted.
		for _, e := range c.unique.keys {
			e.seen = false
		}
		return err
	}
	c.unique.sweep()
	c.stats.evictedKeys.Store(c.unique.evicted)
	return nil
}

// checkOfKey builds a record from a dedup key alone: no process is known.
func (c *Controller) checkOfKey(key bpf.CapprofDedupKey, value bpf.CapprofDedupValue) check.Check {
	audit := key.Audit
	if audit == 0 {
		audit = value.Audit
	}
	chk := check.Check{
		Cap:      int(key.Cap),
		Denied:   key.Denied != 0,
		Audit:    check.Audit(audit),
		UserNS:   check.UserNamespace{Level: key.NsLevel, IsHost: key.NsLevel == 0},
		HostName: c.cfg.HostName,
	}
	c.setSyscall(&chk, key.Syscall)
	c.setCgroup(&chk, key.CgroupId)
	return chk
}
