package selection

import (
	"errors"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// fakeKernel stands in for the tracer's maps, which need root and BPF
// (internal/tracer's TestLiveSelection tests those).
type fakeKernel struct {
	ids    map[uint64]bool
	active bool
	limit  int
}

func (k *fakeKernel) SelectCgroup(id uint64) error {
	if k.limit > 0 && len(k.ids) >= k.limit && !k.ids[id] {
		return errors.New("full")
	}
	k.ids[id] = true
	return nil
}

func (k *fakeKernel) UnselectCgroup(id uint64) error { delete(k.ids, id); return nil }

func (k *fakeKernel) SetSelectionActive(on bool) error { k.active = on; return nil }

const (
	xwingUID = "3431b6bb-c182-46c5-b4e7-327c298e85a0"
	tieUID   = "5e7c1b1a-0000-4000-8000-000000000001"
	xwingApp = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	xwingLog = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	tieApp   = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
)

// tree makes a kubelet-shaped cgroup tree (cgroupfs driver) in a temporary
// directory: the selection only reads directories and their inodes.
func tree(t *testing.T) (root string, ids map[string]uint64) {
	t.Helper()
	root = t.TempDir()
	ids = map[string]uint64{}
	for _, rel := range []string{
		"kubepods/besteffort/pod" + xwingUID + "/" + xwingApp,
		"kubepods/besteffort/pod" + xwingUID + "/" + xwingLog,
		"kubepods/besteffort/pod" + tieUID + "/" + tieApp,
	} {
		if err := os.MkdirAll(filepath.Join(root, rel), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, rel := range []string{"kubepods/besteffort/pod" + xwingUID, "kubepods/besteffort/pod" + tieUID,
		"kubepods/besteffort/pod" + xwingUID + "/" + xwingApp, "kubepods/besteffort/pod" + xwingUID + "/" + xwingLog} {
		fi, err := os.Stat(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		ids[rel] = fi.Sys().(*syscall.Stat_t).Ino
	}
	return root, ids
}

func pod(name, uid string, lbls map[string]string, ctrs map[string]string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID(uid), Labels: lbls}}
	for _, n := range slices.Sorted(maps.Keys(ctrs)) {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n})
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: n, ContainerID: ctrs[n]})
	}
	return p
}

func xwingSelector(t *testing.T) labels.Selector {
	t.Helper()
	sel, err := labels.Parse("class=xwing")
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

func TestSelection(t *testing.T) {
	root, ids := tree(t)
	xwingPod := "kubepods/besteffort/pod" + xwingUID
	tests := []struct {
		name       string
		def        Default
		rules      []Rule
		wantIDs    []string
		wantActive bool
	}{
		{name: "no rule, record all", def: RecordAll, wantActive: false},
		{name: "no rule, record selected", def: RecordSelected, wantActive: true},
		{name: "whole pods by label", def: RecordAll, rules: []Rule{{Namespace: "default", Selector: xwingSelector(t)}},
			wantIDs: []string{xwingPod}, wantActive: true},
		{name: "one pod by name", def: RecordAll, rules: []Rule{{Namespace: "default", PodName: "xwing"}},
			wantIDs: []string{xwingPod}, wantActive: true},
		{name: "containers by name", def: RecordAll,
			rules:   []Rule{{Namespace: "default", Selector: xwingSelector(t), Containers: []string{"log"}}},
			wantIDs: []string{xwingPod}, wantActive: true},
		{name: "another namespace selects nothing here", def: RecordAll, rules: []Rule{{Namespace: "rebels"}},
			wantActive: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &fakeKernel{ids: map[uint64]bool{}}
			s, err := New(k, root, tt.def, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			s.PodChanged("default/xwing", pod("xwing", xwingUID, map[string]string{"class": "xwing"},
				map[string]string{"app": "containerd://" + xwingApp, "log": "containerd://" + xwingLog}))
			s.PodChanged("default/tiefighter", pod("tiefighter", tieUID, map[string]string{"class": "tiefighter"},
				map[string]string{"app": "containerd://" + tieApp}))
			if err := s.SetRules("test", tt.rules); err != nil {
				t.Fatal(err)
			}
			want := map[uint64]bool{}
			for _, rel := range tt.wantIDs {
				want[ids[rel]] = true
			}
			if !maps.Equal(k.ids, want) || k.active != tt.wantActive {
				t.Errorf("kernel holds %v, active %v; want %v, active %v", k.ids, k.active, want, tt.wantActive)
			}
			if s.Unresolved() {
				t.Errorf("targets without a cgroup: %+v", s.Targets("test"))
			}
			// Removing the rules restores the default.
			if err := s.SetRules("test", nil); err != nil {
				t.Fatal(err)
			}
			if len(k.ids) != 0 || k.active != (tt.def == RecordSelected) {
				t.Errorf("without rules the kernel holds %v, active %v", k.ids, k.active)
			}
		})
	}
}

// TestPodsComeAndGo follows a selected pod from its creation (no cgroup
// yet: unresolved) through its cgroup's creation (selected by the event)
// to its deletion (unselected).
func TestPodsComeAndGo(t *testing.T) {
	root := t.TempDir()
	k := &fakeKernel{ids: map[uint64]bool{}}
	s, err := New(k, root, RecordAll, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetRules("test", []Rule{{Namespace: "default", Selector: xwingSelector(t)}}); err != nil {
		t.Fatal(err)
	}
	s.PodChanged("default/xwing", pod("xwing", xwingUID, map[string]string{"class": "xwing"}, nil))
	if !s.Unresolved() || len(k.ids) != 0 {
		t.Fatalf("a pod without a cgroup: unresolved %v, kernel %v", s.Unresolved(), k.ids)
	}
	podDir := "/kubepods/besteffort/pod" + xwingUID
	s.CgroupCreated(7, podDir+"/"+xwingApp) // a container's: its pod's id covers it
	s.CgroupCreated(8, "/kubepods/besteffort/pod"+tieUID)
	if len(k.ids) != 0 {
		t.Fatalf("a container's or another pod's cgroup selected: %v", k.ids)
	}
	s.CgroupCreated(9, podDir)
	if !k.ids[9] {
		t.Fatalf("the selected pod's new cgroup was not selected: %v", k.ids)
	}
	// The tree now has it: a sync finds it, and the pod is resolved.
	if err := os.MkdirAll(filepath.Join(root, podDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if s.Unresolved() || len(k.ids) != 1 {
		t.Errorf("after sync: unresolved %v, kernel %v", s.Unresolved(), k.ids)
	}
	s.PodChanged("default/xwing", nil)
	if len(k.ids) != 0 || !k.active {
		t.Errorf("after the pod's deletion the kernel holds %v, active %v", k.ids, k.active)
	}
}

// TestKeepsNamedContainers: a rule that names containers selects its
// pods' cgroups in the kernel, and Keeps drops the pods' other containers;
// a pod another rule takes whole keeps them all.
func TestKeepsNamedContainers(t *testing.T) {
	root, ids := tree(t)
	k := &fakeKernel{ids: map[uint64]bool{}}
	s, err := New(k, root, RecordAll, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// No container id in the status yet: the pod has just started.
	s.PodChanged("default/xwing", pod("xwing", xwingUID, map[string]string{"class": "xwing"}, map[string]string{"app": "", "log": ""}))
	s.PodChanged("default/tiefighter", pod("tiefighter", tieUID, nil, map[string]string{"app": ""}))
	if !s.Keeps(xwingUID, "app") {
		t.Error("without rules a container is dropped")
	}
	if err := s.SetRules("named", []Rule{{Namespace: "default", Selector: xwingSelector(t), Containers: []string{"log"}}}); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(k.ids, map[uint64]bool{ids["kubepods/besteffort/pod"+xwingUID]: true}) || s.Unresolved() {
		t.Fatalf("kernel holds %v (unresolved %v); want the xwing pod's cgroup before the status names its containers", k.ids, s.Unresolved())
	}
	for _, tt := range []struct {
		pod, container string
		want           bool
	}{
		{xwingUID, "log", true}, {xwingUID, "app", false}, {xwingUID, "", false}, {tieUID, "app", true}, {"", "", true},
	} {
		if got := s.Keeps(tt.pod, tt.container); got != tt.want {
			t.Errorf("Keeps(%q, %q) = %v, want %v", tt.pod, tt.container, got, tt.want)
		}
	}
	if err := s.SetRules("whole", []Rule{{Namespace: "default", PodName: "xwing"}}); err != nil {
		t.Fatal(err)
	}
	if !s.Keeps(xwingUID, "app") {
		t.Error("a pod another rule takes whole drops a container")
	}
	if err := s.SetRules("whole", nil); err != nil {
		t.Fatal(err)
	}
	if s.Keeps(xwingUID, "app") {
		t.Error("the whole pod's rule removed: app still kept")
	}
	if err := s.SetRules("named", nil); err != nil {
		t.Fatal(err)
	}
	if !s.Keeps(xwingUID, "app") || len(k.ids) != 0 {
		t.Errorf("all rules removed: Keeps(app) %v, kernel %v", s.Keeps(xwingUID, "app"), k.ids)
	}
}

func TestSelectionFullIsReported(t *testing.T) {
	root, _ := tree(t)
	k := &fakeKernel{ids: map[uint64]bool{}, limit: 1}
	s, err := New(k, root, RecordAll, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s.PodChanged("default/xwing", pod("xwing", xwingUID, nil, nil))
	s.PodChanged("default/tiefighter", pod("tiefighter", tieUID, nil, nil))
	if err := s.SetRules("test", []Rule{{Namespace: "default"}}); err == nil {
		t.Errorf("two pods in a map of one: no error")
	}
	if len(k.ids) != 1 || !k.active {
		t.Errorf("kernel holds %v, active %v; want the one that fit, active", k.ids, k.active)
	}
}
