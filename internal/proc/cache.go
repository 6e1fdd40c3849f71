package proc

import (
	"container/list"
	"slices"
	"sync"
	"time"
)

const (
	defaultProcRoot   = "/proc"
	defaultExitedTTL  = 30 * time.Second
	defaultMaxEntries = 1 << 16
)

// Options configures a Cache. The zero value is usable.
type Options struct {
	// Node is the node or host name; it is part of every ExecID.
	Node string
	// ProcRoot is where procfs is mounted; "" means "/proc".
	ProcRoot string
	// ExitedTTL is how long an exited process is kept for late events;
	// 0 (or less) means 30s.
	ExitedTTL time.Duration
	// MaxEntries is a hard bound on entries, live and exited; 0 (or less)
	// means 65536. When full, exited entries are evicted first (oldest exit
	// first); after that new processes are refused and counted.
	MaxEntries int
	// Now is the clock used for TTLs, for tests; nil means time.Now.
	Now func() time.Time
}

// Stats reports the size of the cache and its counters.
type Stats struct {
	Live, Exited int
	// Evicted counts exited entries removed, by TTL or to make room.
	Evicted uint64
	// Refused counts processes not cached because the cache was full of
	// live ones.
	Refused uint64
	// Misses counts lookups of a pid the cache did not hold, whether or not
	// reading /proc then found it.
	Misses uint64
}

// Cache maps pids to processes. Its methods are safe for concurrent use,
// though the event handlers assume a single caller to apply events in order.
type Cache struct {
	node     string
	procRoot string
	ttl      time.Duration
	max      int
	now      func() time.Time
	bootWall time.Time

	mu      sync.Mutex
	entries map[uint32]*entry
	// exited holds the *entry of every exited process in exit order. As
	// they all share one TTL this is also expiry order, so expiring and
	// evicting for room both take from the front.
	exited                   list.List
	evicted, refused, misses uint64
}

type entry struct {
	info Info
	// startBootNS identifies the process behind the pid, so that an exec
	// can tell whether the entry is the same process or a reused pid.
	startBootNS uint64
	exitedAt    time.Time
	exitElem    *list.Element // in Cache.exited; nil while live
}

// NewCache returns an empty cache; call Scan to seed it. It measures the
// boot-time offset used by WallTime once, here.
func NewCache(opts Options) *Cache {
	c := &Cache{
		node:     opts.Node,
		procRoot: opts.ProcRoot,
		ttl:      opts.ExitedTTL,
		max:      opts.MaxEntries,
		now:      opts.Now,
		entries:  make(map[uint32]*entry),
	}
	if c.procRoot == "" {
		c.procRoot = defaultProcRoot
	}
	if c.ttl <= 0 {
		c.ttl = defaultExitedTTL
	}
	if c.max <= 0 {
		c.max = defaultMaxEntries
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.bootWall = bootWallTime(c.procRoot, bootWallTimeFromClocks)
	return c
}

// Lookup returns the process with the given pid. On a miss it reads
// /proc/<pid> once, for a process Scan missed or whose events are still in
// flight, and caches what it finds. ok is false when the pid is unknown.
func (c *Cache) Lookup(pid uint32) (Info, bool) {
	c.mu.Lock()
	c.expireLocked(c.now())
	if e, ok := c.entries[pid]; ok {
		info := e.info.clone()
		c.mu.Unlock()
		return info, true
	}
	c.misses++
	c.mu.Unlock()

	// Read without the lock: it costs far more than a map access and would
	// otherwise stall the event reader.
	p, err := readProcess(c.procRoot, pid)
	if err != nil {
		return Info{}, false
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.expireLocked(now)
	if e, ok := c.entries[pid]; ok {
		// An event filled the entry meanwhile; events are authoritative.
		return e.info.clone(), true
	}
	info := c.infoFromProc(p)
	info.ParentExecID, info.ParentExecutablePath = c.parentLocked(info.PPID)
	// Even if the cache is full the caller still gets the answer.
	if e := c.putLocked(info, p.startBootNS()); e != nil && p.zombie {
		c.markExitedLocked(e, now)
		info.Exited = true
	}
	return info.clone(), true
}

// Stats reports sizes and counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(c.now())
	return Stats{
		Live:    len(c.entries) - c.exited.Len(),
		Exited:  c.exited.Len(),
		Evicted: c.evicted,
		Refused: c.refused,
		Misses:  c.misses,
	}
}

// clone copies Args so that a caller modifying the returned slice cannot
// corrupt the cache, whose entries share Args between parent and child.
func (i Info) clone() Info {
	i.Args = slices.Clone(i.Args)
	return i
}

// infoFromProc builds an Info from /proc data, without the parent fields.
func (c *Cache) infoFromProc(p procEntry) Info {
	start := p.startBootNS()
	return Info{
		PID:              p.pid,
		PPID:             p.ppid,
		ExecutablePath:   capPath(p.exe),
		Args:             capArgs(p.args),
		WorkingDirectory: capPath(p.cwd),
		UID:              p.uid,
		EUID:             p.euid,
		StartTime:        c.WallTime(start),
		ExecID:           execID(c.node, start, p.pid),
	}
}

// parentLocked returns the ExecID and executable of the cached parent, or
// empty strings when it is unknown.
func (c *Cache) parentLocked(ppid uint32) (execID, path string) {
	if ppid == 0 {
		return "", ""
	}
	p, ok := c.entries[ppid]
	if !ok {
		return "", ""
	}
	return p.info.ExecID, p.info.ExecutablePath
}

// putLocked stores info as the live process of its pid, replacing whatever
// the pid held: a new fork or exec always describes the pid's current
// process, even if its exit was never seen. It returns nil if the cache is
// full of live processes.
func (c *Cache) putLocked(info Info, startBootNS uint64) *entry {
	info.Exited = false
	if e, ok := c.entries[info.PID]; ok {
		if e.exitElem != nil {
			c.exited.Remove(e.exitElem)
		}
		*e = entry{info: info, startBootNS: startBootNS}
		return e
	}
	if len(c.entries) >= c.max {
		// Exited entries only serve late lookups; a live process is worth
		// more than any of them.
		front := c.exited.Front()
		if front == nil {
			c.refused++
			return nil
		}
		c.removeLocked(front.Value.(*entry))
		c.evicted++
	}
	e := &entry{info: info, startBootNS: startBootNS}
	c.entries[info.PID] = e
	return e
}

// markExitedLocked records that e exited at now; a second exit is ignored so
// that the TTL runs from the first.
func (c *Cache) markExitedLocked(e *entry, now time.Time) {
	if e.exitElem != nil {
		return
	}
	e.info.Exited = true
	e.exitedAt = now
	e.exitElem = c.exited.PushBack(e)
}

// expireLocked evicts exited entries older than the TTL. It runs at the start
// of every public method instead of on a timer, so the cache needs no
// goroutine and no Close.
func (c *Cache) expireLocked(now time.Time) {
	for front := c.exited.Front(); front != nil; front = c.exited.Front() {
		e := front.Value.(*entry)
		if now.Sub(e.exitedAt) < c.ttl {
			return
		}
		c.removeLocked(e)
		c.evicted++
	}
}

func (c *Cache) removeLocked(e *entry) {
	if e.exitElem != nil {
		c.exited.Remove(e.exitElem)
		e.exitElem = nil
	}
	delete(c.entries, e.info.PID)
}
