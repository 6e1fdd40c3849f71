package kube

import (
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/capprof/capprof/internal/check"
)

// Match says how much a lookup found.
type Match uint8

const (
	// MatchNone: the pod is unknown (not started yet, or the informer has
	// not synced).
	MatchNone Match = iota
	// MatchPodPending: the pod is known but the container is not listed
	// in its status, and some of its containers have no id yet: it may be
	// listed soon.
	MatchPodPending
	// MatchPod: the pod is known and lists an id for every container; this
	// one is not among them (the pod's sandbox). The answer is final.
	MatchPod
	// MatchContainer: the container is known.
	MatchContainer
)

// Final reports whether waiting cannot improve the answer.
func (m Match) Final() bool { return m == MatchPod || m == MatchContainer }

// index holds the pods of the node by UID and their containers by id. A
// deleted pod stays for a while: its containers' last checks are still in
// the ring buffer and the batches when the deletion arrives.
type index struct {
	retain time.Duration

	mu          sync.RWMutex
	pods        map[string]*podEntry // by UID and by cgroup UID
	containers  map[string]*check.Kubernetes
	deleted     map[string]time.Time // pod UID -> when its deletion arrived
	byNamespace map[string]string    // namespace/name -> UID, for deletions of unknown objects
}

func newIndex(retain time.Duration) *index {
	return &index{
		retain:      retain,
		pods:        make(map[string]*podEntry),
		containers:  make(map[string]*check.Kubernetes),
		deleted:     make(map[string]time.Time),
		byNamespace: make(map[string]string),
	}
}

// lookup finds the container by id, else its pod by UID.
func (x *index) lookup(containerID, podUID string) (*check.Kubernetes, Match) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if containerID != "" {
		if m, ok := x.containers[containerID]; ok {
			return m, MatchContainer
		}
	}
	if podUID != "" {
		if e, ok := x.pods[podUID]; ok {
			if e.complete {
				return e.pod, MatchPod
			}
			return e.pod, MatchPodPending
		}
	}
	return nil, MatchNone
}

// entry returns the pod's current entry.
func (x *index) entry(uid string) (*podEntry, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.pods[uid]
	return e, ok
}

// put adds or replaces a pod's entry. Container ids the previous entry's
// status listed and the new one's does not are kept once more (a status
// may momentarily lose an id during a restart, and the previous instance
// may still have records in flight); ids the previous entry itself only
// carried are dropped. Metadata that an update did not change keeps its
// pointer: records are grouped by it (one OTLP resource per container),
// and most pod updates change nothing exported.
func (x *index) put(e *podEntry, key string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if old, ok := x.pods[e.uid]; ok {
		if reflect.DeepEqual(old.pod, e.pod) {
			e.pod = old.pod
		}
		for id, m := range old.containers {
			now, listed := e.containers[id]
			switch {
			case listed && reflect.DeepEqual(now, m):
				e.containers[id] = m
			case !listed && !old.carried[id]:
				e.containers[id] = m
				if e.carried == nil {
					e.carried = make(map[string]bool)
				}
				e.carried[id] = true
			}
		}
		for id, m := range old.containers {
			if _, kept := e.containers[id]; !kept && x.containers[id] == m {
				delete(x.containers, id)
			}
		}
	}
	x.pods[e.uid] = e
	if e.cgroupUID != "" {
		x.pods[e.cgroupUID] = e
	}
	for id, m := range e.containers {
		x.containers[id] = m
	}
	x.byNamespace[key] = e.uid
	delete(x.deleted, e.uid)
}

// markDeleted starts the retention of a deleted pod, by UID or, when the
// deletion came as a tombstone without the object, by namespace/name.
func (x *index) markDeleted(uid, key string, now time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if uid == "" {
		uid = x.byNamespace[key]
	}
	if x.byNamespace[key] == uid {
		delete(x.byNamespace, key)
	}
	if _, ok := x.pods[uid]; ok {
		x.deleted[uid] = now
	}
}

// sweep removes pods deleted longer than the retention ago and returns the
// owner UIDs no remaining pod was resolved through.
func (x *index) sweep(now time.Time) (unusedOwners []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var gone []*podEntry
	for uid, at := range x.deleted {
		if now.Sub(at) < x.retain {
			continue
		}
		delete(x.deleted, uid)
		if e, ok := x.pods[uid]; ok {
			gone = append(gone, e)
			delete(x.pods, uid)
			if e.cgroupUID != "" && x.pods[e.cgroupUID] == e {
				delete(x.pods, e.cgroupUID)
			}
			for id, m := range e.containers {
				if x.containers[id] == m {
					delete(x.containers, id)
				}
			}
		}
	}
	for _, e := range gone {
		for _, owner := range e.ownerUIDs {
			if !x.ownerInUse(owner) && !slices.Contains(unusedOwners, owner) {
				unusedOwners = append(unusedOwners, owner)
			}
		}
	}
	return unusedOwners
}

func (x *index) ownerInUse(uid string) bool {
	for _, e := range x.pods {
		if slices.Contains(e.ownerUIDs, uid) {
			return true
		}
	}
	return false
}

// size returns the number of pods and containers indexed.
func (x *index) size() (pods, containers int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := 0
	for uid, e := range x.pods {
		if uid == e.uid {
			n++
		}
	}
	return n, len(x.containers)
}
