package controller

import (
	"context"
	"encoding/binary"
	"testing"
	"time"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/capprof/capprof/bpf"
	"github.com/capprof/capprof/internal/kube"
	"github.com/capprof/capprof/internal/tracer"
)

// BenchmarkHandleCheck measures decoding a ring-buffer check record and
// attributing it to its process and container: the per-check user-space
// work before mapping.
func BenchmarkHandleCheck(b *testing.B) {
	benchmarkHandleCheck(b, newTestController(b))
}

func benchmarkHandleCheck(b *testing.B, c *testController) {
	exec := bpf.CapprofExecEvent{Type: uint8(bpf.CapprofEventTypeEVENT_EXEC), Pid: 100, Ppid: 1, StartNs: 1e9, TimeNs: 2e9}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&exec.Filename[0])), len(exec.Filename)), "/usr/bin/dmesg")
	c.handle(tracer.Event{Exec: &exec})

	ev := bpf.CapprofCheckEvent{
		Type: uint8(bpf.CapprofEventTypeEVENT_CHECK), Cap: 34, Denied: 1, Audit: 1, Pid: 100, Tid: 100,
		Uid: 65534, Euid: 65534, NsIsHost: 1, Syscall: 103, CgroupId: c.containerCgroup, TimeNs: 3e9,
	}
	raw := make([]uint64, (binary.Size(ev)+7)/8)
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&raw[0])), len(raw)*8)
	if _, err := binary.Encode(buf, binary.NativeEndian, ev); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		e, err := tracer.Decode(buf)
		if err != nil {
			b.Fatal(err)
		}
		c.handle(e)
		if len(c.batch) == cap(c.batch) {
			c.batch = c.batch[:1]
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
}

// BenchmarkHandleCheckWithPodMetadata is BenchmarkHandleCheck with the
// check's container looked up in a kube.Watcher's index (fed by client-go's
// fake clientset: no API server is needed to measure the lookup). Run both
// side by side; the ratio is the cost of pod metadata per check.
func BenchmarkHandleCheckWithPodMetadata(b *testing.B) {
	c := newTestController(b)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: testPodUID},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
			{Name: "app", ContainerID: "cri-o://" + testContainerID}}},
	}
	w, err := kube.NewForClient(fake.NewClientset(pod), kube.DefaultConfig("node-1"))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	for _, match := w.Lookup(testContainerID, ""); match != kube.MatchContainer; _, match = w.Lookup(testContainerID, "") {
		time.Sleep(time.Millisecond)
	}
	c.meta = w
	c.pending = newPendingQueue(time.Second, 1000)
	benchmarkHandleCheck(b, c)
	if c.batch[0].Kubernetes == nil {
		b.Fatal("the check was not enriched")
	}
}
