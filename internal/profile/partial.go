package profile

import (
	"cmp"
	"os"
	"slices"
)

// AttrProfileWriter is the profile record's attribute naming its writer:
// the gateway replica whose connector built the profile from the checks it
// received. Several replicas may each hold part of one workload's checks
// (the loadbalancing exporter moves about 1/N of the workloads when the
// replica set changes); each emits its own partial profile, cumulative for
// as long as that writer keeps its state, and the workload's profile is the
// sum of every writer's latest one (Partials).
const AttrProfileWriter = "linux.capability.profile.writer"

// fallbackWriter names a writer whose host name is unknown.
const fallbackWriter = "capprof-gateway"

// DefaultWriter is a writer's name when none is configured: the host name,
// which in a StatefulSet is the pod's stable name, kept across restarts
// together with the pod's volume (and so its restored state).
func DefaultWriter() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return fallbackWriter
}

// Partials merges the partial profiles that writers emitted over time. A
// writer's profile of a key only grows (it is cumulative), so of the
// records of one writer and key the one with the most checks, then the
// latest last check, is its latest; the merged profile adds up the latest
// of every writer: no record is counted twice, however often a writer
// emitted it. The zero value is ready to use.
type Partials struct {
	latest map[partialKey]Profile
}

type partialKey struct {
	writer string
	key    Key
}

// Add takes one profile record's profile, emitted by writer.
func (ps *Partials) Add(writer string, p Profile) {
	if ps.latest == nil {
		ps.latest = make(map[partialKey]Profile)
	}
	k := partialKey{writer, p.Key}
	if cur, ok := ps.latest[k]; ok && (cur.Checks > p.Checks || cur.Checks == p.Checks && !p.LastSeen.After(cur.LastSeen)) {
		return
	}
	ps.latest[k] = p
}

// Len is how many writer and key pairs were added.
func (ps *Partials) Len() int { return len(ps.latest) }

// Merged returns one profile per key: the sum of every writer's latest,
// in the order of Builder.Profiles.
func (ps *Partials) Merged() []Profile {
	keys := make([]partialKey, 0, len(ps.latest))
	for k := range ps.latest {
		keys = append(keys, k)
	}
	// Restore in a fixed order: merged name lists do not depend on map order.
	slices.SortFunc(keys, func(a, b partialKey) int {
		if c := cmp.Compare(a.key.String(), b.key.String()); c != 0 {
			return c
		}
		return cmp.Compare(a.writer, b.writer)
	})
	b := NewBuilder(WithMaxProfiles(len(keys) + 1))
	for _, k := range keys {
		b.Restore(ps.latest[k])
	}
	return b.Profiles()
}
