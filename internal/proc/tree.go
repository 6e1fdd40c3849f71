package proc

// Descendants returns the live processes below pid in the cached process
// tree (children, grandchildren, ...), in no particular order. It serves the
// --pid filter, which must also cover processes started before recording.
func (c *Cache) Descendants(pid uint32) []uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	children := make(map[uint32][]uint32)
	for p, e := range c.entries {
		if e.exitElem == nil && p != e.info.PPID {
			children[e.info.PPID] = append(children[e.info.PPID], p)
		}
	}
	var out []uint32
	queue := children[pid]
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		out = append(out, p)
		queue = append(queue, children[p]...)
	}
	return out
}
