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
	seen       bool   // present in the kernel map at the current flush
}

func newUniqueTable() *uniqueTable {
	return &uniqueTable{keys: make(map[bpf.CapprofDedupKey]*uniqueEntry)}
}

// first takes a key's first-check event, made at gen, and says whether to
// report it: the kernel counted that check as the generation's first hit.
func (u *uniqueTable) first(key bpf.CapprofDedupKey, gen uint64, chk check.Check) (report bool) {
	e := u.keys[key]
	if e != nil && e.gen == gen {
		// A flush read this generation before its event and reported its
		// hits already; only the context was missing.
		if !e.hasContext {
			e.check, e.hasContext = chk, true
		}
		return false
	}
	if e != nil {
		u.evicted++
	}
	u.keys[key] = &uniqueEntry{check: chk, gen: gen, reported: 1, hasContext: true, seen: e != nil && e.seen}
	return true
}

// observe takes a flush's reading of a key and returns its entry and the
// hits to report (0 for none). context builds the record of a key whose
// first-check event was lost or is not read yet.
func (u *uniqueTable) observe(key bpf.CapprofDedupKey, value bpf.CapprofDedupValue, context func() check.Check) (*uniqueEntry, uint64) {
	e := u.keys[key]
	switch {
	case e == nil:
		e = &uniqueEntry{check: context(), gen: value.FirstNs}
		u.keys[key] = e
	case e.gen != value.FirstNs:
		// Re-inserted since the last flush: same key, so the old context
		// still describes it until the new first-check event arrives.
		u.evicted++
		e.gen, e.reported, e.hasContext = value.FirstNs, 0, false
	}
	e.seen = true
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
// count grew since the last flush, stamped with the flush time.
func (c *Controller) flushUnique() error {
	now := time.Now()
	err := c.tracer.DedupCounts(func(key bpf.CapprofDedupKey, value bpf.CapprofDedupValue) {
		e, hits := c.unique.observe(key, value, func() check.Check { return c.checkOfKey(key, value) })
		if hits == 0 {
			return
		}
		chk := e.check
		chk.Time = now
		chk.Count = hits
		c.batch = append(c.batch, chk)
	})
	if err != nil {
		// A partial reading must not make present keys look evicted.
		for _, e := range c.unique.keys {
			e.seen = false
		}
		return err
	}
	c.unique.sweep()
	c.stats.EvictedKeys = c.unique.evicted
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
