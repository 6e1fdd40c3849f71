package kube

import "sync"

// State is the watcher's view of the API server.
type State uint8

const (
	// StateSyncing: the first list of the node's pods has not completed.
	StateSyncing State = iota
	// StateSynced: the informer is in sync and watching.
	StateSynced
	// StateUnreachable: the last list or watch failed (API server down,
	// network, credentials); lookups answer from what is already known and
	// the informer retries with backoff.
	StateUnreachable
)

func (s State) String() string {
	switch s {
	case StateSynced:
		return "synced"
	case StateUnreachable:
		return "unreachable"
	}
	return "syncing"
}

// stateTracker records list and watch outcomes and reports changes.
type stateTracker struct {
	onChange func(State, error) // must not call back into the tracker

	mu     sync.Mutex
	state  State
	synced bool // the informer completed its first list
}

// failed records a failed list or watch.
func (t *stateTracker) failed(err error) { t.set(StateUnreachable, err) }

// succeeded records a successful list or watch: back in sync once the
// informer has completed its first list.
func (t *stateTracker) succeeded() {
	t.mu.Lock()
	synced := t.synced
	t.mu.Unlock()
	if synced {
		t.set(StateSynced, nil)
	}
}

// initialSync records the informer's first complete list.
func (t *stateTracker) initialSync() {
	t.mu.Lock()
	t.synced = true
	t.mu.Unlock()
	t.set(StateSynced, nil)
}

// set changes the state; the report is made under the lock so that
// reports from the list, the watch and the initial sync arrive in order.
func (t *stateTracker) set(s State, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state == s {
		return
	}
	t.state = s
	if t.onChange != nil {
		t.onChange(s, err)
	}
}

func (t *stateTracker) get() State {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state
}
