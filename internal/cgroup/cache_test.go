package cgroup

import (
	"testing"
	"time"
)

func TestPathCache(t *testing.T) {
	type op struct {
		add  bool // add id → path, otherwise get id
		id   uint64
		path string
	}
	tests := []struct {
		name  string
		limit int
		ops   []op
		want  map[uint64]string // complete contents afterwards
	}{
		{
			name:  "under the bound",
			limit: 3,
			ops:   []op{{add: true, id: 1, path: "/a"}, {add: true, id: 2, path: "/b"}},
			want:  map[uint64]string{1: "/a", 2: "/b"},
		},
		{
			name:  "evicts the least recently added",
			limit: 2,
			ops:   []op{{add: true, id: 1, path: "/a"}, {add: true, id: 2, path: "/b"}, {add: true, id: 3, path: "/c"}},
			want:  map[uint64]string{2: "/b", 3: "/c"},
		},
		{
			name:  "get protects from eviction",
			limit: 2,
			ops:   []op{{add: true, id: 1, path: "/a"}, {add: true, id: 2, path: "/b"}, {id: 1}, {add: true, id: 3, path: "/c"}},
			want:  map[uint64]string{1: "/a", 3: "/c"},
		},
		{
			name:  "re-adding refreshes and replaces",
			limit: 2,
			ops:   []op{{add: true, id: 1, path: "/a"}, {add: true, id: 2, path: "/b"}, {add: true, id: 1, path: "/z"}, {add: true, id: 3, path: "/c"}},
			want:  map[uint64]string{1: "/z", 3: "/c"},
		},
		{
			name:  "bound of one",
			limit: 1,
			ops:   []op{{add: true, id: 1, path: "/a"}, {add: true, id: 2, path: "/b"}},
			want:  map[uint64]string{2: "/b"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newPathCache(tc.limit)
			for _, o := range tc.ops {
				if o.add {
					c.add(o.id, o.path)
				} else {
					c.get(o.id)
				}
			}
			if c.len() != len(tc.want) {
				t.Errorf("len = %d, want %d", c.len(), len(tc.want))
			}
			for id, want := range tc.want {
				if e, ok := c.get(id); !ok || e.path != want {
					t.Errorf("get(%d) = %v, %v; want %q", id, e, ok, want)
				}
			}
		})
	}
}

func TestPathCacheReplaceResetsContainer(t *testing.T) {
	c := newPathCache(4)
	c.add(7, "/docker/"+cid1)
	e, _ := c.get(7)
	e.container, e.parsed = ParsePath(e.path), true
	c.add(7, "/system.slice/ssh.service")
	if e, _ := c.get(7); e.parsed {
		t.Errorf("entry for a new path kept the old container %+v", e.container)
	}
}

func TestMissCache(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	const ttl = time.Second
	type op struct {
		at     time.Duration // since t0
		add    bool          // record id as missing, otherwise check it
		forget bool
		id     uint64
		want   bool // for checks: reported as recently missing
	}
	tests := []struct {
		name    string
		limit   int
		ops     []op
		wantLen int
	}{
		{
			name:    "unknown id",
			limit:   4,
			ops:     []op{{id: 1}},
			wantLen: 0,
		},
		{
			name:    "recent within ttl",
			limit:   4,
			ops:     []op{{add: true, id: 1}, {at: ttl - 1, id: 1, want: true}},
			wantLen: 1,
		},
		{
			name:    "expires after ttl",
			limit:   4,
			ops:     []op{{add: true, id: 1}, {at: ttl, id: 1}},
			wantLen: 0,
		},
		{
			name:    "re-adding restarts the ttl",
			limit:   4,
			ops:     []op{{add: true, id: 1}, {at: ttl / 2, add: true, id: 1}, {at: ttl, id: 1, want: true}},
			wantLen: 1,
		},
		{
			name:    "forget",
			limit:   4,
			ops:     []op{{add: true, id: 1}, {forget: true, id: 1}, {id: 1}},
			wantLen: 0,
		},
		{
			name:    "bounded, oldest dropped",
			limit:   2,
			ops:     []op{{add: true, id: 1}, {add: true, id: 2}, {add: true, id: 3}, {id: 1}, {id: 2, want: true}, {id: 3, want: true}},
			wantLen: 2,
		},
		{
			name:    "expired entries pruned on add",
			limit:   4,
			ops:     []op{{add: true, id: 1}, {add: true, id: 2}, {at: 2 * ttl, add: true, id: 3}},
			wantLen: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newMissCache(ttl, tc.limit)
			for _, o := range tc.ops {
				now := t0.Add(o.at)
				switch {
				case o.add:
					m.add(o.id, now)
				case o.forget:
					m.forget(o.id)
				default:
					if got := m.recent(o.id, now); got != o.want {
						t.Errorf("recent(%d) at +%v = %v, want %v", o.id, o.at, got, o.want)
					}
				}
			}
			if m.len() != tc.wantLen {
				t.Errorf("len = %d, want %d", m.len(), tc.wantLen)
			}
		})
	}
}
