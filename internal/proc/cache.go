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
	// HostNamespaces are the host's (HostNamespaces reads them), to tell
	// which of a process's namespaces are the host's; zero: none is.
	HostNamespaces Namespaces
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
	hostNS   Namespaces

	mu      sync.Mutex
	entries map[uint32]*entry
	// pidInits holds the first process (pid 1) of each pid namespace but
	// the host's, by the namespace's inode: its start is the container's.
	pidInits map[uint32]pidInit
	// exited holds the *entry of every exited process in exit order. As
	// they all share one TTL this is also expiry order, so expiring and
	// evicting for room both take from the front.
	exited                   list.List
	evicted, refused, misses uint64
}

type pidInit struct {
	pid   uint32
	start time.Time
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
		hostNS:   opts.HostNamespaces,
		entries:  make(map[uint32]*entry),
		pidInits: make(map[uint32]pidInit),
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
	c.relateLocked(&info)
	// Even if the cache is full the caller still gets the answer.
	if e := c.putLocked(&info, p.startBootNS()); e != nil && p.zombie {
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
// Context is shared read only.
func (i Info) clone() Info {
	i.Args = slices.Clone(i.Args)
	return i
}

// infoFromProc builds an Info from /proc data; relateLocked and putLocked
// complete it.
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
		Context: &Context{
			Namespaces: p.ns,
			LoginUID:   p.loginUID,
			VPID:       p.vpid,
			Flags:      FlagProcFS,
		},
	}
}

// registerLocked sets which of info's namespaces are the host's and, when
// info is the first process of a pid namespace, remembers its start. Like
// relateLocked, it completes a Context no other Info shares yet.
func (c *Cache) registerLocked(info *Info) {
	x := info.Context
	x.HostNamespaces = x.Namespaces.hostOf(&c.hostNS)
	if ns := x.Namespaces[NSPID]; ns != 0 && x.VPID == 1 && !x.HostNamespaces.Has(NSPID) {
		c.pidInits[ns] = pidInit{pid: info.PID, start: info.StartTime}
		x.PIDNamespaceStart = info.StartTime
	}
}

// forgetLocked forgets info as its pid namespace's first process: a
// namespace's inode is reused once the namespace is gone.
func (c *Cache) forgetLocked(info *Info) {
	x := info.Context
	if ns := x.Namespaces[NSPID]; x.VPID == 1 && c.pidInits[ns].pid == info.PID {
		delete(c.pidInits, ns)
	}
}

// relateLocked fills in what info takes from other processes: its pid
// namespace's start and the cached parent's details (left zero when the
// parent is unknown). The parent's Args are shared: a stored slice is never
// written to, and Lookup hands out copies of a process's own.
func (c *Cache) relateLocked(info *Info) {
	x := info.Context
	if ns := x.Namespaces[NSPID]; ns != 0 {
		if p, ok := c.pidInits[ns]; ok {
			x.PIDNamespaceStart = p.start
		}
	}
	if info.PPID == 0 {
		return
	}
	e, ok := c.entries[info.PPID]
	if !ok {
		return
	}
	p := &e.info
	info.ParentExecID, info.ParentExecutablePath = p.ExecID, p.ExecutablePath
	x.Parent = Parent{Args: p.Args, WorkingDirectory: p.WorkingDirectory, UID: p.UID, EUID: p.EUID,
		LoginUID: p.Context.LoginUID, StartTime: p.StartTime, Flags: p.Context.Flags}
}

// putLocked stores info as the live process of its pid, replacing whatever
// the pid held: a new fork or exec always describes the pid's current
// process, even if its exit was never seen. It completes info with
// registerLocked first. It returns nil if the cache is full of live
// processes.
func (c *Cache) putLocked(info *Info, startBootNS uint64) *entry {
	info.Exited = false
	if e, ok := c.entries[info.PID]; ok {
		if e.exitElem != nil {
			c.exited.Remove(e.exitElem)
		}
		c.forgetLocked(&e.info)
		c.registerLocked(info)
		*e = entry{info: *info, startBootNS: startBootNS}
		return e
	}
	if len(c.entries) >= c.max {
		// Exited entries only serve late lookups; a live process is worth
		// more than any of them.
		front := c.exited.Front()
		if front == nil {
			c.refused++
			info.Context.HostNamespaces = info.Context.Namespaces.hostOf(&c.hostNS)
			return nil
		}
		c.removeLocked(front.Value.(*entry))
		c.evicted++
	}
	c.registerLocked(info)
	e := &entry{info: *info, startBootNS: startBootNS}
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
	c.forgetLocked(&e.info)
}
