package cgroup

import (
	"container/list"
	"time"
)

// pathEntry is one cached cgroup. The Container is parsed on first use
// because a walk caches thousands of paths that are never asked about.
type pathEntry struct {
	id        uint64
	path      string
	container Container
	parsed    bool
}

// pathCache is a bounded id → path map that forgets the least recently used
// id first. Entries for removed cgroups are kept until they age out: cgroup
// ids are not reused, so a late event for a removed cgroup still gets the
// right path.
type pathCache struct {
	limit int
	order *list.List // of *pathEntry, most recently used first
	items map[uint64]*list.Element
}

func newPathCache(limit int) *pathCache {
	return &pathCache{limit: limit, order: list.New(), items: make(map[uint64]*list.Element)}
}

// get returns the entry for id and marks it as recently used.
func (c *pathCache) get(id uint64) (*pathEntry, bool) {
	el, ok := c.items[id]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*pathEntry), true
}

// add stores or refreshes id → path and marks it as recently used.
func (c *pathCache) add(id uint64, path string) {
	if el, ok := c.items[id]; ok {
		e := el.Value.(*pathEntry)
		if e.path != path {
			*e = pathEntry{id: id, path: path}
		}
		c.order.MoveToFront(el)
		return
	}
	c.items[id] = c.order.PushFront(&pathEntry{id: id, path: path})
	for c.order.Len() > c.limit {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*pathEntry).id)
	}
}

func (c *pathCache) len() int { return c.order.Len() }

// missCache remembers ids a walk did not find, for ttl, so that a burst of
// events from a cgroup that is already gone costs one walk rather than one
// per event. It is bounded like pathCache, so a stream of distinct unknown
// ids cannot grow it without limit.
type missCache struct {
	ttl   time.Duration
	limit int
	order *list.List // of miss, oldest first
	items map[uint64]*list.Element
}

type miss struct {
	id uint64
	at time.Time
}

func newMissCache(ttl time.Duration, limit int) *missCache {
	return &missCache{ttl: ttl, limit: limit, order: list.New(), items: make(map[uint64]*list.Element)}
}

// recent reports whether id was recorded as missing less than ttl before now.
func (m *missCache) recent(id uint64, now time.Time) bool {
	el, ok := m.items[id]
	if !ok {
		return false
	}
	if now.Sub(el.Value.(miss).at) >= m.ttl {
		m.remove(el)
		return false
	}
	return true
}

// add records id as missing at now.
func (m *missCache) add(id uint64, now time.Time) {
	m.forget(id)
	// Entries are appended in time order, so expired ones sit at the front;
	// dropping them here keeps the cache from holding stale ids until evicted.
	for el := m.order.Front(); el != nil && now.Sub(el.Value.(miss).at) >= m.ttl; el = m.order.Front() {
		m.remove(el)
	}
	m.items[id] = m.order.PushBack(miss{id: id, at: now})
	for m.order.Len() > m.limit {
		m.remove(m.order.Front())
	}
}

// forget drops id, for when it is known to exist after all.
func (m *missCache) forget(id uint64) {
	if el, ok := m.items[id]; ok {
		m.remove(el)
	}
}

func (m *missCache) remove(el *list.Element) {
	m.order.Remove(el)
	delete(m.items, el.Value.(miss).id)
}

func (m *missCache) len() int { return m.order.Len() }
