package controller

import (
	"testing"
	"time"

	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/kube"
)

// fakeMetadata stands in for kube.Watcher: these tests are about the
// controller's queue logic; internal/kube's integration tests run the
// watcher against a real API server.
type fakeMetadata struct {
	containers map[string]*check.Kubernetes
	pods       map[string]*check.Kubernetes
	podFinal   bool
	lookups    int
	changed    chan struct{}
}

func newFakeMetadata() *fakeMetadata {
	return &fakeMetadata{containers: map[string]*check.Kubernetes{}, pods: map[string]*check.Kubernetes{}, changed: make(chan struct{}, 1)}
}

func (f *fakeMetadata) Lookup(containerID, podUID string) (*check.Kubernetes, kube.Match) {
	f.lookups++
	if m, ok := f.containers[containerID]; ok {
		return m, kube.MatchContainer
	}
	if m, ok := f.pods[podUID]; ok {
		if f.podFinal {
			return m, kube.MatchPod
		}
		return m, kube.MatchPodPending
	}
	return nil, kube.MatchNone
}

func (f *fakeMetadata) Changed() <-chan struct{} { return f.changed }

func withMetadata(t *testing.T, maxWait time.Duration, maxPending int) (*testController, *fakeMetadata) {
	c := newTestController(t)
	meta := newFakeMetadata()
	c.meta = meta
	c.pending = newPendingQueue(maxWait, maxPending)
	return c, meta
}

var (
	podA = cgroup.Container{ID: "a1", Runtime: cgroup.RuntimeContainerd, PodUID: "11111111-1111-1111-1111-111111111111"}
	podB = cgroup.Container{ID: "b1", Runtime: cgroup.RuntimeContainerd, PodUID: "22222222-2222-2222-2222-222222222222"}
)

func checkIn(ctr cgroup.Container, pid uint32) check.Check {
	return check.Check{Container: ctr, PID: pid, Count: 1}
}

func pids(checks []check.Check) []uint32 {
	var out []uint32
	for _, c := range checks {
		out = append(out, c.PID)
	}
	return out
}

func TestEmitKnownContainerIsEnrichedAtOnce(t *testing.T) {
	c, meta := withMetadata(t, time.Minute, 10)
	m := &check.Kubernetes{PodName: "web", ContainerName: "nginx"}
	meta.containers[podA.ID] = m
	c.emit(checkIn(podA, 1))
	c.emit(check.Check{PID: 2}) // a host process: not looked up
	if len(c.batch) != 2 || c.batch[0].Kubernetes != m || c.batch[1].Kubernetes != nil {
		t.Fatalf("batch = %+v", c.batch)
	}
	if meta.lookups != 1 {
		t.Errorf("%d lookups, want 1 (host processes are not looked up)", meta.lookups)
	}
	if s := c.Stats(); s.Held != 0 || s.Pending != 0 {
		t.Errorf("stats %+v, want nothing held", s)
	}
}

func TestEmitContainerOutsideKubernetesIsNotHeld(t *testing.T) {
	c, _ := withMetadata(t, time.Minute, 10)
	c.emit(checkIn(cgroup.Container{ID: "d1", Runtime: cgroup.RuntimeDocker}, 1))
	if len(c.batch) != 1 || c.Stats().Held != 0 {
		t.Fatalf("a docker container's check was held: batch %d, stats %+v", len(c.batch), c.Stats())
	}
}

func TestHeldChecksAreEnrichedInOrderWhenThePodArrives(t *testing.T) {
	c, meta := withMetadata(t, time.Minute, 10)
	c.emit(checkIn(podA, 1))
	c.emit(checkIn(podB, 2))
	c.emit(checkIn(podA, 3))
	if len(c.batch) != 0 {
		t.Fatalf("checks of unknown pods were not held: %+v", c.batch)
	}
	m := &check.Kubernetes{PodName: "a", ContainerName: "c"}
	meta.containers[podA.ID] = m
	// Arriving before the release, this check must not overtake the held ones.
	c.emit(checkIn(podA, 4))
	c.releasePending(false)
	if got := pids(c.batch); len(got) != 3 || got[0] != 1 || got[1] != 3 || got[2] != 4 {
		t.Fatalf("released %v, want [1 3 4]", got)
	}
	for _, chk := range c.batch {
		if chk.Kubernetes != m {
			t.Errorf("check %d released without its metadata", chk.PID)
		}
	}
	s := c.Stats()
	if s.Held != 4 || s.Unbound != 0 || s.Pending != 1 {
		t.Errorf("stats %+v, want held 4, unbound 0, pending 1", s)
	}
	c.emit(checkIn(podA, 5))
	if got := pids(c.batch); len(got) != 4 || got[3] != 5 {
		t.Errorf("after the release, a check of the known container waited: %v", got)
	}
}

func TestHeldChecksPastMaxWaitLeaveWithWhatIsKnown(t *testing.T) {
	// Long enough that the first release cannot come after it even on a
	// loaded machine.
	c, meta := withMetadata(t, 500*time.Millisecond, 10)
	podLevel := &check.Kubernetes{PodName: "a"}
	meta.pods[podA.PodUID] = podLevel // the pod, but not yet the container
	c.emit(checkIn(podA, 1))
	c.emit(checkIn(podB, 2))
	c.releasePending(false)
	if len(c.batch) != 0 {
		t.Fatalf("released before max wait: %v", pids(c.batch))
	}
	time.Sleep(600 * time.Millisecond)
	c.releasePending(false)
	if got := pids(c.batch); len(got) != 2 {
		t.Fatalf("after max wait released %v, want both", got)
	}
	if c.batch[0].Kubernetes != podLevel || c.batch[0].Container != podA {
		t.Errorf("pod-level metadata and cgroup identity not kept: %+v", c.batch[0])
	}
	if c.batch[1].Kubernetes != nil || c.batch[1].Container != podB {
		t.Errorf("unknown pod: %+v", c.batch[1])
	}
	if s := c.Stats(); s.Unbound != 2 || s.Pending != 0 {
		t.Errorf("stats %+v, want unbound 2, pending 0", s)
	}
}

func TestSandboxOfACompletePodIsNotHeld(t *testing.T) {
	c, meta := withMetadata(t, time.Minute, 10)
	meta.pods[podA.PodUID] = &check.Kubernetes{PodName: "a"}
	meta.podFinal = true
	c.emit(checkIn(podA, 1))
	if len(c.batch) != 1 || c.batch[0].Kubernetes == nil {
		t.Fatalf("the sandbox's check of a complete pod waited: %+v", c.batch)
	}
}

func TestPendingMemoryBoundEmitsTheOldest(t *testing.T) {
	c, _ := withMetadata(t, time.Minute, 2)
	for pid := uint32(1); pid <= 3; pid++ {
		c.emit(checkIn(podA, pid))
	}
	if got := pids(c.batch); len(got) != 1 || got[0] != 1 {
		t.Fatalf("emitted %v, want the oldest [1]", got)
	}
	if s := c.Stats(); s.Held != 3 || s.Unbound != 1 || s.Pending != 2 {
		t.Errorf("stats %+v, want held 3, unbound 1, pending 2", s)
	}
	// The end of the recording releases everything, unenriched if need be.
	c.releasePending(true)
	if got := pids(c.batch); len(got) != 3 {
		t.Fatalf("final release: %v", got)
	}
	if s := c.Stats(); s.Unbound != 3 || s.Pending != 0 {
		t.Errorf("stats %+v, want unbound 3, pending 0", s)
	}
}

type countingSink struct{ batches []int }

func (s *countingSink) Write(checks []check.Check) error {
	s.batches = append(s.batches, len(checks))
	return nil
}

func TestWriteSplitsAtMaxBatch(t *testing.T) {
	c := newTestController(t)
	c.cfg.MaxBatch = 2
	for pid := uint32(1); pid <= 5; pid++ {
		c.batch = append(c.batch, checkIn(podA, pid))
	}
	var sink countingSink
	if err := c.write(&sink); err != nil {
		t.Fatal(err)
	}
	if len(sink.batches) != 3 || sink.batches[0] != 2 || sink.batches[2] != 1 || c.Stats().Records != 5 || len(c.batch) != 0 {
		t.Errorf("batches %v, records %d, left %d", sink.batches, c.Stats().Records, len(c.batch))
	}
}

func TestIsRuntimeSetup(t *testing.T) {
	tests := []struct {
		name        string
		comm        string
		hostMountNS bool
		want        bool
	}{
		{name: "runc's parent", comm: "runc:[0:PARENT]", hostMountNS: true, want: true},
		{name: "runc's child", comm: "runc:[1:CHILD]", want: true},
		{name: "runc's init", comm: "runc:[2:INIT]", want: true},
		{name: "runc init before nsexec renames it", comm: "runc", hostMountNS: true, want: true},
		{name: "runc init re-executed as /proc/self/exe", comm: "exe", hostMountNS: true, want: true},
		{name: "crun", comm: "crun", want: true},
		{name: "crun from its memfd copy", comm: "memfd:crun_clon", want: true},
		{name: "youki", comm: "youki", want: true},
		{name: "youki's init", comm: "youki:[2:INIT]", want: true},
		{name: "the entrypoint", comm: "nginx", want: false},
		{name: "the entrypoint named runc", comm: "runc", want: false},
		{name: "a program named like runc", comm: "runc-helper", want: false},
		{name: "a program called init", comm: "init", want: false},
		{name: "no name", comm: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isRuntimeSetup([]byte(tt.comm), tt.hostMountNS); got != tt.want {
				t.Errorf("isRuntimeSetup(%q, %v) = %v, want %v", tt.comm, tt.hostMountNS, got, tt.want)
			}
		})
	}
	comm := []byte("runc:[2:INIT]")
	if n := testing.AllocsPerRun(100, func() { isRuntimeSetup(comm, false) }); n != 0 {
		t.Errorf("isRuntimeSetup allocates %v times a check", n)
	}
}
