package proc

import (
	"fmt"
	"os"
	"strconv"
)

// Scan adds every process in the proc root to the cache and returns how many
// it added. Pids the cache already holds are left alone, because events are
// more precise than /proc (they carry the exec time, for one).
//
// Processes that vanish while being read are skipped silently. Any other
// unreadable process is skipped too, and reported in the error together with
// a count; the processes that were added remain usable.
func (c *Cache) Scan() (int, error) {
	dirents, err := os.ReadDir(c.procRoot)
	if err != nil {
		return 0, fmt.Errorf("scan %s: %w", c.procRoot, err)
	}

	// Read everything before taking the lock: a scan of a busy host takes
	// long enough that holding it would stall Lookup callers.
	found := make([]procEntry, 0, len(dirents))
	var firstErr error
	failed := 0
	for _, d := range dirents {
		pid, ok := parsePID(d)
		if !ok {
			continue
		}
		p, err := readProcess(c.procRoot, pid)
		switch {
		case err == nil:
			found = append(found, p)
		case isVanished(err):
		default:
			failed++
			if firstErr == nil {
				firstErr = err
			}
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.expireLocked(now)
	added := make([]uint32, 0, len(found))
	for _, p := range found {
		if _, ok := c.entries[p.pid]; ok {
			continue
		}
		info := c.infoFromProc(p)
		e := c.putLocked(&info, p.startBootNS())
		if e == nil {
			continue
		}
		if p.zombie {
			// No exit event will come for a process that already exited;
			// marking it lets the TTL remove it.
			c.markExitedLocked(e, now)
		}
		added = append(added, p.pid)
	}
	// Parents and pid namespaces' first processes are related only now
	// that every process is cached, since /proc lists them in pid order,
	// not in creation order.
	for _, pid := range added {
		// A zombie added early may have been evicted to make room since.
		if e, ok := c.entries[pid]; ok {
			c.relateLocked(&e.info)
		}
	}

	if failed > 0 {
		return len(added), fmt.Errorf("scan %s: skipped %d unreadable processes, first: %w", c.procRoot, failed, firstErr)
	}
	return len(added), nil
}

// parsePID returns the pid of a process directory; other entries of the proc
// root ("self", "net", "uptime"...) are not processes.
func parsePID(d os.DirEntry) (uint32, bool) {
	if !d.IsDir() {
		return 0, false
	}
	pid, err := strconv.ParseUint(d.Name(), 10, 32)
	if err != nil || pid == 0 {
		return 0, false
	}
	return uint32(pid), true
}
