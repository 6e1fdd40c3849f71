package controller

import (
	"time"

	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/kube"
)

// podMetadata is what the controller needs of kube.Watcher.
type podMetadata interface {
	Lookup(containerID, podUID string) (*check.Kubernetes, kube.Match)
	Changed() <-chan struct{}
}

// pendingQueue holds the checks of pod containers whose pod metadata has
// not arrived yet (a pod just starting: its first checks come before the
// kubelet has reported its status), in arrival order. Each waits at most
// maxWait, and at most max wait at once; a check past either bound is
// emitted with what is known (container id and pod UID from the cgroup,
// the pod if known), never dropped.
type pendingQueue struct {
	maxWait time.Duration
	max     int
	checks  []pendingCheck
	held    map[cgroup.Container]int // checks held per container
}

func newPendingQueue(maxWait time.Duration, max int) *pendingQueue {
	return &pendingQueue{maxWait: maxWait, max: max, held: make(map[cgroup.Container]int)}
}

type pendingCheck struct {
	chk   check.Check
	since time.Time
}

// enrich sets the check's pod metadata; it reports false when the check
// should wait for better metadata.
func enrich(meta podMetadata, chk *check.Check) bool {
	ctr := &chk.Container
	if ctr.ID == "" && ctr.PodUID == "" {
		return true // a host process
	}
	m, match := meta.Lookup(ctr.ID, ctr.PodUID)
	chk.Kubernetes = m
	// Only a pod's container is worth waiting for: a container outside
	// Kubernetes (no pod in its cgroup path) will never be listed.
	return match.Final() || ctr.PodUID == ""
}

// hold queues a check; when the queue is full the oldest check leaves it
// and is returned to be emitted as it is.
func (q *pendingQueue) hold(chk check.Check, now time.Time) (evicted check.Check, full bool) {
	if len(q.checks) >= q.max {
		evicted, full = q.checks[0].chk, true
		q.checks[0] = pendingCheck{}
		q.checks = q.checks[1:]
		q.forget(evicted.Container)
	}
	q.checks = append(q.checks, pendingCheck{chk: chk, since: now})
	q.held[chk.Container]++
	return evicted, full
}

// release emits, in arrival order, the held checks whose metadata has
// arrived and, past maxWait or when all is true, the others with what is
// known; expired counts the latter.
func (q *pendingQueue) release(meta podMetadata, now time.Time, all bool, emit func(check.Check)) (expired int) {
	type answer struct {
		m     *check.Kubernetes
		final bool
	}
	answers := make(map[cgroup.Container]answer)
	kept := q.checks[:0]
	for _, p := range q.checks {
		a, ok := answers[p.chk.Container]
		if !ok {
			m, match := meta.Lookup(p.chk.Container.ID, p.chk.Container.PodUID)
			a = answer{m, match.Final()}
			answers[p.chk.Container] = a
		}
		switch {
		case a.final:
		case all || now.Sub(p.since) >= q.maxWait:
			expired++
		default:
			kept = append(kept, p)
			continue
		}
		p.chk.Kubernetes = a.m
		q.forget(p.chk.Container)
		emit(p.chk)
	}
	clear(q.checks[len(kept):])
	q.checks = kept
	return expired
}

func (q *pendingQueue) len() int { return len(q.checks) }

// holds reports whether checks of the container are held.
func (q *pendingQueue) holds(ctr cgroup.Container) bool { return q.held[ctr] > 0 }

func (q *pendingQueue) forget(ctr cgroup.Container) {
	if q.held[ctr]--; q.held[ctr] <= 0 {
		delete(q.held, ctr)
	}
}

// emit adds a check to the batch, with its pod metadata, or holds it
// until that arrives.
func (c *Controller) emit(chk check.Check) {
	if c.meta == nil {
		c.batch = append(c.batch, chk)
		return
	}
	// A container with checks already held keeps its order: it waits too.
	if enrich(c.meta, &chk) && !c.pending.holds(chk.Container) {
		c.add(chk)
		return
	}
	c.stats.held.Add(1)
	if evicted, full := c.pending.hold(chk, time.Now()); full {
		c.stats.unbound.Add(1)
		c.add(evicted)
	}
	c.stats.pending.Store(uint64(c.pending.len()))
}

// releasePending moves held checks whose metadata arrived, or whose wait
// is over (all of them when all is true), to the batch; it returns how
// many it moved.
func (c *Controller) releasePending(all bool) int {
	if c.pending == nil || c.pending.len() == 0 {
		return 0
	}
	released := 0
	expired := c.pending.release(c.meta, time.Now(), all, func(chk check.Check) {
		c.add(chk)
		released++
	})
	c.stats.unbound.Add(uint64(expired))
	c.stats.pending.Store(uint64(c.pending.len()))
	return released
}

// add appends a check with its pod metadata to the batch, unless the live
// selection drops its container: one of a selected pod that a recording
// does not name (the kernel selects the whole pod, so that the named
// containers are recorded before the pod's status names them).
func (c *Controller) add(chk check.Check) {
	if c.selector != nil {
		name := ""
		if chk.Kubernetes != nil {
			name = chk.Kubernetes.ContainerName
		}
		if !c.selector.sel.Keeps(chk.Container.PodUID, name) {
			if chk.Cap >= 0 && chk.Cap < len(c.stats.unselectedDropped) {
				c.stats.unselectedDropped[chk.Cap].Add(chk.Count)
			}
			return
		}
	}
	c.batch = append(c.batch, chk)
}
