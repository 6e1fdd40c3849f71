package kube

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capprof/capprof/internal/check"
)

func TestSplitImage(t *testing.T) {
	tests := []struct {
		name, ref, image, tag string
	}{
		{name: "name and tag", ref: "nginx:1.27", image: "nginx", tag: "1.27"},
		{name: "no tag is latest", ref: "nginx", image: "nginx", tag: "latest"},
		{name: "registry port is not a tag", ref: "registry.local:5000/shop/web", image: "registry.local:5000/shop/web", tag: "latest"},
		{name: "registry port and tag", ref: "registry.local:5000/shop/web:2", image: "registry.local:5000/shop/web", tag: "2"},
		{name: "digest only", ref: "busybox@sha256:abcd", image: "busybox", tag: ""},
		{name: "tag and digest", ref: "docker.io/library/busybox:1.37@sha256:abcd", image: "docker.io/library/busybox", tag: "1.37"},
		{name: "empty", ref: "", image: "", tag: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			image, tag := splitImage(tt.ref)
			if image != tt.image || tag != tt.tag {
				t.Errorf("splitImage(%q) = %q, %q; want %q, %q", tt.ref, image, tag, tt.image, tt.tag)
			}
		})
	}
}

func TestContainerID(t *testing.T) {
	for in, want := range map[string]string{
		"containerd://0123abcd": "0123abcd",
		"cri-o://0123abcd":      "0123abcd",
		"docker://0123abcd":     "0123abcd",
		"0123abcd":              "0123abcd",
		"":                      "",
	} {
		if got := containerID(in); got != want {
			t.Errorf("containerID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMirrorUID(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{mirrorAnnotation: "0123456789abcdef0123456789abcdef"}}}
	if got, want := mirrorUID(pod), "01234567-89ab-cdef-0123-456789abcdef"; got != want {
		t.Errorf("mirrorUID = %q, want %q", got, want)
	}
	if got := mirrorUID(&corev1.Pod{}); got != "" {
		t.Errorf("mirrorUID of a regular pod = %q", got)
	}
}

func TestLabels(t *testing.T) {
	pod := map[string]string{"app": "web", "tier": "front", "pod-template-hash": "abc"}
	tests := []struct {
		name, in string
		want     []check.Label
		wantErr  bool
	}{
		{name: "none", in: "none"},
		{name: "empty is none", in: ""},
		{name: "all", in: "all", want: []check.Label{{Key: "app", Value: "web"}, {Key: "pod-template-hash", Value: "abc"}, {Key: "tier", Value: "front"}}},
		{name: "keys, sorted, missing skipped", in: "tier, app,absent", want: []check.Label{{Key: "app", Value: "web"}, {Key: "tier", Value: "front"}}},
		{name: "all with keys", in: "all,app", wantErr: true},
		{name: "empty key", in: "app,,tier", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ParseLabels(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseLabels(%q) error %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := l.selectFrom(pod); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("selected %v, want %v", got, tt.want)
			}
			if back, err := ParseLabels(l.String()); err != nil || !reflect.DeepEqual(back, l) {
				t.Errorf("String() %q does not parse back: %+v, %v", l.String(), back, err)
			}
		})
	}
}

// TestNewPodEntry checks the pure pod-to-metadata mapping (no client).
func TestNewPodEntry(t *testing.T) {
	yes := true
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1", UID: "u-1", ResourceVersion: "7", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			NodeName:       "node-1",
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
			Containers: []corev1.Container{
				{Name: "nginx", Image: "nginx:1.27", SecurityContext: &corev1.SecurityContext{
					Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}, Drop: []corev1.Capability{"ALL"}}}},
				{Name: "agent", Image: "agent:2", SecurityContext: &corev1.SecurityContext{Privileged: &yes}},
			},
		},
		Status: corev1.PodStatus{
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "init", ContainerID: "containerd://i1"}},
			ContainerStatuses: []corev1.ContainerStatus{
				{Name: "nginx", ContainerID: "containerd://n2", Image: "docker.io/library/nginx:1.27",
					ImageID:              "docker.io/library/nginx@sha256:0123",
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ContainerID: "containerd://n1"}}},
				{Name: "agent"}, // still being created
			},
		},
	}
	own := owners{Deployment: "web", ReplicaSet: "web-abc", through: []string{"rs-uid"}, resolved: true}
	e := newPodEntry(pod, own, Labels{All: true})

	podLevel := check.Kubernetes{Namespace: "shop", PodName: "web-1", PodUID: "u-1", NodeName: "node-1",
		Deployment: "web", ReplicaSet: "web-abc", Labels: []check.Label{{Key: "app", Value: "web"}}}
	if !reflect.DeepEqual(*e.pod, podLevel) {
		t.Errorf("pod level %+v, want %+v", *e.pod, podLevel)
	}
	nginx := podLevel
	nginx.ContainerName, nginx.ImageName, nginx.ImageTag = "nginx", "nginx", "1.27"
	nginx.ImageID = "docker.io/library/nginx@sha256:0123"
	nginx.Declared = &check.SecurityContext{Add: []string{"NET_ADMIN"}, Drop: []string{"ALL"}}
	initC := podLevel
	initC.ContainerName, initC.ImageName, initC.ImageTag = "init", "busybox", "latest"
	initC.Declared = &check.SecurityContext{Add: []string{}, Drop: []string{}}
	want := map[string]*check.Kubernetes{"n2": &nginx, "n1": &nginx, "i1": &initC}
	if !reflect.DeepEqual(e.containers, want) {
		t.Errorf("containers:\n got %+v\nwant %+v", e.containers, want)
	}
	if e.complete {
		t.Error("complete with a container that has no id yet")
	}
	pod.Status.ContainerStatuses[1].ContainerID = "containerd://a1"
	e = newPodEntry(pod, own, Labels{})
	if !e.complete || e.containers["a1"].Declared.Privileged != true || e.pod.Labels != nil {
		t.Errorf("complete %v, agent %+v, labels %v", e.complete, e.containers["a1"], e.pod.Labels)
	}
}

func TestIndexKeepsDeletedPodsForRetain(t *testing.T) {
	x := newIndex(time.Minute)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "u",
		Annotations: map[string]string{mirrorAnnotation: "0123456789abcdef0123456789abcdef"}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "c", ContainerID: "containerd://c1"}}},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}}
	x.put(newPodEntry(pod, owners{through: []string{"rs"}, resolved: true}, Labels{}), "ns/p")
	if _, m := x.lookup("", "01234567-89ab-cdef-0123-456789abcdef"); m != MatchPod {
		t.Errorf("static pod by its cgroup's UID: %v", m)
	}
	// A status that momentarily lost the id keeps the container.
	pod.Status.ContainerStatuses[0].ContainerID = ""
	x.put(newPodEntry(pod, owners{through: []string{"rs"}, resolved: true}, Labels{}), "ns/p")
	if _, m := x.lookup("c1", "u"); m != MatchContainer {
		t.Errorf("container lost on an update: %v", m)
	}
	now := time.Now()
	x.markDeleted("", "ns/p", now) // a tombstone without the object
	if _, m := x.lookup("c1", "u"); m != MatchContainer {
		t.Errorf("deleted pod forgotten before the retention: %v", m)
	}
	if unused := x.sweep(now.Add(30 * time.Second)); len(unused) != 0 {
		t.Errorf("swept early: %v", unused)
	}
	if unused := x.sweep(now.Add(2 * time.Minute)); !reflect.DeepEqual(unused, []string{"rs"}) {
		t.Errorf("unused owners %v, want [rs]", unused)
	}
	if _, m := x.lookup("c1", "u"); m != MatchNone {
		t.Errorf("after retention: %v", m)
	}
	if pods, ctrs := x.size(); pods != 0 || ctrs != 0 {
		t.Errorf("size %d pods %d containers after the sweep", pods, ctrs)
	}
}

func TestIndexUpdateKeepsUnchangedMetadata(t *testing.T) {
	x := newIndex(time.Minute)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "u", ResourceVersion: "1"},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "c", ContainerID: "containerd://c1"}}},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1"}}}}
	x.put(newPodEntry(pod, owners{resolved: true}, Labels{All: true}), "ns/p")
	before, _ := x.lookup("c1", "u")
	// A readiness change: nothing exported changes, the pointer stays.
	pod.ResourceVersion = "2"
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	x.put(newPodEntry(pod, owners{resolved: true}, Labels{All: true}), "ns/p")
	if after, _ := x.lookup("c1", "u"); after != before {
		t.Error("an update that changed no metadata replaced the container's")
	}
	// A new label is a change.
	pod.Labels = map[string]string{"tier": "front"}
	x.put(newPodEntry(pod, owners{resolved: true}, Labels{All: true}), "ns/p")
	if after, _ := x.lookup("c1", "u"); after == before || len(after.Labels) != 1 {
		t.Errorf("a label change kept the old metadata: %+v", after)
	}
}

func TestIndexBoundsTheIdsOfACrashLoopingContainer(t *testing.T) {
	x := newIndex(time.Minute)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "u"},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "c", ContainerID: "containerd://c0"}}},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}}
	x.put(newPodEntry(pod, owners{resolved: true}, Labels{}), "ns/p")
	for i := 1; i <= 50; i++ {
		st := &pod.Status.ContainerStatuses[0]
		st.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ContainerID: st.ContainerID}
		st.ContainerID = fmt.Sprintf("containerd://c%d", i)
		x.put(newPodEntry(pod, owners{resolved: true}, Labels{}), "ns/p")
	}
	e, _ := x.entry("u")
	if len(e.containers) > 3 {
		t.Errorf("after 50 restarts the pod lists %d container ids: %v", len(e.containers), slices.Collect(maps.Keys(e.containers)))
	}
	if _, ctrs := x.size(); ctrs != len(e.containers) {
		t.Errorf("the index holds %d container ids, the pod %d", ctrs, len(e.containers))
	}
	for _, id := range []string{"c50", "c49"} { // current and last terminated
		if _, m := x.lookup(id, "u"); m != MatchContainer {
			t.Errorf("%s: %v", id, m)
		}
	}
	if _, m := x.lookup("c1", "u"); m == MatchContainer {
		t.Error("the first restart's id is still indexed")
	}
}

func TestStateTrackerReportsChangesInOrder(t *testing.T) {
	var got []State
	st := &stateTracker{onChange: func(s State, _ error) { got = append(got, s) }}
	st.succeeded() // before the first list: still syncing
	st.failed(errTest)
	st.failed(errTest) // no change
	st.initialSync()
	st.succeeded()
	st.failed(errTest)
	st.succeeded()
	want := []State{StateUnreachable, StateSynced, StateUnreachable, StateSynced}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reports %v, want %v", got, want)
	}
}

var errTest = errors.New("connection refused")
