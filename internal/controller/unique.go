package controller

import (
	"time"

	"github.com/capprof/capprof/bpf"
	"github.com/capprof/capprof/internal/check"
)

// uniqueTable remembers, per dedup key, the context of its first check and
// how many of its kernel hits were already reported, so each flush reports
// only the hits since the last one.
type uniqueTable struct {
	keys map[bpf.CapprofDedupKey]*uniqueEntry
}

type uniqueEntry struct {
	check      check.Check
	reported   uint64
	hasContext bool // the key's first-check event arrived
	seen       bool // present in the kernel map at the last flush
}

func newUniqueTable() *uniqueTable {
	return &uniqueTable{keys: make(map[bpf.CapprofDedupKey]*uniqueEntry)}
}

// first records a key's first-check event and says whether to report it.
// The kernel counted that check as 1 when it inserted the key.
func (u *uniqueTable) first(key bpf.CapprofDedupKey, chk check.Check) (report bool) {
	e, ok := u.keys[key]
	switch {
	case !ok:
		u.keys[key] = &uniqueEntry{check: chk, reported: 1, hasContext: true}
		return true
	case !e.hasContext:
		// A flush saw the key before its event was read and reported its
		// count already; only the context was missing.
		e.check, e.hasContext = chk, true
		return false
	default:
		// The LRU map evicted the key and it came back with a count of 1.
		e.check, e.reported = chk, 1
		return true
	}
}

// flushUnique reads the kernel's counts and queues a record per key whose
// count grew since the last flush, stamped with the flush time.
func (c *Controller) flushUnique() error {
	now := time.Now()
	for _, e := range c.unique.keys {
		e.seen = false
	}
	err := c.tracer.DedupCounts(func(key bpf.CapprofDedupKey, value bpf.CapprofDedupValue) {
		e, ok := c.unique.keys[key]
		if !ok {
			// Its first-check event was lost or is still unread: report the
			// count with what the key itself says.
			e = &uniqueEntry{check: c.checkOfKey(key, value)}
			c.unique.keys[key] = e
		}
		e.seen = true
		if value.Count <= e.reported {
			return
		}
		chk := e.check
		chk.Time = now
		chk.Count = value.Count - e.reported
		e.reported = value.Count
		c.batch = append(c.batch, chk)
	})
	for key, e := range c.unique.keys {
		if !e.seen {
			delete(c.unique.keys, key)
			c.stats.EvictedKeys++
		}
	}
	return err
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
