package proc

import (
	"path/filepath"
	"strings"
)

// Exec records that pid executed path with args. uid and euid are the new
// credentials, startBootNS is the process's start (fork) time and execBootNS
// the time of the exec, both in kernel boot-time nanoseconds; ctx is what
// the process runs in.
//
// cwd may be "": the cache then reads /proc/<pid>/cwd, best effort since the
// process may be gone already. A relative path is made absolute against the
// working directory when that is known.
//
// The ExecID changes with every exec, since the pid now runs a new program.
// The parent fields describe the cached parent as it is at the time of the
// event.
func (c *Cache) Exec(pid, ppid uint32, path string, args []string, cwd string, uid, euid uint32, startBootNS, execBootNS uint64, ctx TaskContext) {
	// The /proc reads happen before taking the lock so that Lookup callers
	// do not wait on file-system access.
	if cwd == "" {
		cwd = readlinkProc(c.procRoot, pid, "cwd")
	}
	if path == "" {
		path = strings.TrimSuffix(readlinkProc(c.procRoot, pid, "exe"), deletedSuffix)
	}

	info := Info{
		PID:       pid,
		PPID:      ppid,
		Args:      capArgs(args),
		UID:       uid,
		EUID:      euid,
		StartTime: c.WallTime(startBootNS),
		ExecID:    execID(c.node, execBootNS, pid),
		Context:   ctx.context(FlagExec),
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(c.now())

	if cwd == "" {
		// exec does not change the working directory, so what the cache
		// knew about this same process (same start time, not a reused pid)
		// still applies. This matters for short-lived commands, which are
		// often gone before their exec event is handled.
		if e, ok := c.entries[pid]; ok && !e.info.Exited && sameStart(e.startBootNS, startBootNS) {
			cwd = e.info.WorkingDirectory
		}
	}
	// execve resolves a relative path against the caller's working
	// directory, not $PATH, so joining the two gives the file it ran.
	if path != "" && !filepath.IsAbs(path) && filepath.IsAbs(cwd) {
		path = filepath.Join(cwd, path)
	}
	info.ExecutablePath = capPath(path)
	info.WorkingDirectory = capPath(cwd)
	c.relateLocked(&info)
	c.putLocked(&info, startBootNS)
}

// Fork records that parent created child, a new thread group leader, at
// startBootNS (kernel boot-time nanoseconds); ctx is what the child runs in.
// The child inherits the parent's executable, arguments, working directory
// and uids; its ExecID comes from its own start time. If the parent is
// unknown the child gets only its pid, ppid, start time and ctx, plus what
// /proc/<child> says if it can still be read.
func (c *Cache) Fork(parent, child uint32, startBootNS uint64, ctx TaskContext) {
	info := Info{
		PID:       child,
		PPID:      parent,
		StartTime: c.WallTime(startBootNS),
		ExecID:    execID(c.node, startBootNS, child),
		Context:   ctx.context(FlagClone),
	}

	c.mu.Lock()
	c.expireLocked(c.now())
	if p, ok := c.entries[parent]; ok {
		// Sharing Args is safe: a stored Args slice is never written to,
		// and Lookup hands out copies.
		info.ExecutablePath = p.info.ExecutablePath
		info.Args = p.info.Args
		info.WorkingDirectory = p.info.WorkingDirectory
		info.UID, info.EUID = p.info.UID, p.info.EUID
		c.relateLocked(&info)
		c.putLocked(&info, startBootNS)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()

	// The child may have exited and its pid been reused by the time this
	// event is handled; the start time tells whether /proc still shows the
	// process this event is about.
	if p, err := readProcess(c.procRoot, child); err == nil && sameStart(p.startBootNS(), startBootNS) {
		info.ExecutablePath = capPath(p.exe)
		info.Args = capArgs(p.args)
		info.WorkingDirectory = capPath(p.cwd)
		info.UID, info.EUID = p.uid, p.euid
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(c.now())
	c.relateLocked(&info)
	c.putLocked(&info, startBootNS)
}

// Exit marks pid as exited. The entry stays for ExitedTTL so that late
// lookups still resolve, then it is evicted. exitBootNS is not used for the
// TTL: it runs from when the cache learns of the exit, because a reader
// lagging behind the kernel would otherwise evict entries before the events
// queued behind the exit could use them.
func (c *Cache) Exit(pid uint32, exitBootNS uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.expireLocked(now)
	if e, ok := c.entries[pid]; ok {
		c.markExitedLocked(e, now)
	}
}

// sameStart reports whether two boot-time start times denote the same
// process. They are compared in clock ticks because times read from /proc
// have only tick resolution.
func sameStart(a, b uint64) bool {
	return a/nsPerTick == b/nsPerTick
}
