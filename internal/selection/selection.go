package selection

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	corev1 "k8s.io/api/core/v1"

	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/kube"
)

// Kernel is the program's live selection (tracer.Tracer).
type Kernel interface {
	SelectCgroup(id uint64) error
	UnselectCgroup(id uint64) error
	SetSelectionActive(on bool) error
}

// Target is one pod, or one container of a pod, that a source's rules
// select on this node.
type Target struct {
	Namespace, Pod, PodUID string
	// Container is "" when the whole pod is selected.
	Container string
	// Containers names the selected containers: Container, or every
	// container of a pod selected whole.
	Containers []string
	// CgroupID is the pod's cgroup, in the kernel's selection; 0 while it
	// has not been found (the pod is not running yet). A target of named
	// containers selects its pod's cgroup too: Keeps drops the other
	// containers' checks.
	CgroupID uint64
}

// Selection owns the kernel's selection: its rules by source, the node's
// pods, and the cgroup ids it put into the kernel. Its methods are safe
// for concurrent use.
type Selection struct {
	kernel Kernel
	root   string // the cgroup2 mount
	def    Default
	log    *slog.Logger

	mu    sync.Mutex
	rules map[string][]Rule      // by source
	pods  map[string]*corev1.Pod // by namespace/name
	want  map[string][]target    // by source, as the last sync resolved them
	byPod map[string]bool        // the pod cgroup UIDs of the targets
	in    map[uint64]bool        // ids in the kernel's map
	// found caches the cgroup ids of the wanted pods by cgroup UID, so
	// that a sync walks the tree only for pods it has not found yet.
	found map[string]uint64
	// active is the kernel's switch as last set.
	active bool
	// named holds, by pod cgroup UID, the container names selected in the
	// pods that no rule takes whole, as the last sync resolved them; read
	// without mu on every check (Keeps).
	named atomic.Pointer[map[string]map[string]bool]
}

// target is a Target and what finds its cgroup.
type target struct {
	Target
	cgroupUID string // the pod cgroup's UID (a static pod's differs from its UID)
}

// New returns a Selection with no rules and switches the kernel's
// selection to what def says while none exist.
func New(kernel Kernel, cgroupRoot string, def Default, log *slog.Logger) (*Selection, error) {
	if err := def.Validate(); err != nil {
		return nil, err
	}
	s := &Selection{
		kernel: kernel, root: cgroupRoot, def: def, log: log,
		rules: map[string][]Rule{}, pods: map[string]*corev1.Pod{}, want: map[string][]target{},
		byPod: map[string]bool{}, in: map[uint64]bool{}, found: map[string]uint64{},
	}
	if err := s.setActive(def == RecordSelected); err != nil {
		return nil, err
	}
	return s, nil
}

// SetRules replaces a source's rules (none removes the source) and syncs.
func (s *Selection) SetRules(source string, rules []Rule) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(rules) == 0 {
		delete(s.rules, source)
	} else {
		s.rules[source] = slices.Clone(rules)
	}
	return s.sync()
}

// PodChanged records a pod of the node added, updated or (pod nil)
// deleted, by its namespace/name key, and syncs when it matters.
func (s *Selection) PodChanged(key string, pod *corev1.Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.pods[key]
	if pod == nil {
		delete(s.pods, key)
	} else {
		s.pods[key] = pod
	}
	if !s.matchesAny(old) && !s.matchesAny(pod) {
		return
	}
	if err := s.sync(); err != nil {
		s.log.Warn("cgroup selection", "error", err)
	}
}

func (s *Selection) matchesAny(pod *corev1.Pod) bool {
	if pod == nil {
		return false
	}
	for _, rules := range s.rules {
		for _, r := range rules {
			if r.Matches(pod) {
				return true
			}
		}
	}
	return false
}

// CgroupCreated selects a new cgroup at once when it is a selected pod's:
// the kernel reports a cgroup's creation before anything runs in it, so a
// pod that starts after its selection is recorded from its first check as
// soon as this event is read.
func (s *Selection) CgroupCreated(id uint64, cgroupPath string) {
	c := cgroup.ParsePath(cgroupPath)
	if c.PodUID == "" || c.ID != "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.byPod[c.PodUID] || cgroup.ParsePath(path.Dir(cgroupPath)).PodUID == c.PodUID || s.in[id] {
		return
	}
	s.found[c.PodUID] = id
	if err := s.kernel.SelectCgroup(id); err != nil {
		s.log.Warn("select new cgroup", "path", cgroupPath, "error", err)
		return
	}
	s.in[id] = true
	s.log.Debug("selected new cgroup", "path", cgroupPath, "id", id)
}

// Sync resolves the rules against the pods and the cgroup tree again, for
// cgroups that appeared without an event (kernels without cgroup_mkdir).
func (s *Selection) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sync()
}

// Keeps reports whether a check of the pod (by its cgroup's UID, as
// cgroup.ParsePath reads it) and container (by name, "" when the pod's
// status has not named it) is selected, once the kernel's selection has
// let it through: false for the containers a rule does not name in a pod
// that no rule takes whole.
func (s *Selection) Keeps(podCgroupUID, container string) bool {
	named := s.named.Load()
	if named == nil {
		return true
	}
	names, ok := (*named)[podCgroupUID]
	return !ok || names[container]
}

// Unresolved reports whether some selected pod has no cgroup yet.
func (s *Selection) Unresolved() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ts := range s.want {
		for _, t := range ts {
			if t.CgroupID == 0 {
				return true
			}
		}
	}
	return false
}

// Targets returns what the source's rules select on this node, sorted.
func (s *Selection) Targets(source string) []Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Target, 0, len(s.want[source]))
	for _, t := range s.want[source] {
		out = append(out, t.Target)
	}
	return out
}

// Active reports whether the kernel's selection is switched on.
func (s *Selection) Active() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// Size is how many cgroup ids the kernel's selection holds.
func (s *Selection) Size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.in)
}

// sync recomputes the targets, finds their cgroups and brings the
// kernel's map and switch in line: ids are added before the switch goes
// on and removed after it goes off, so no selected check is dropped in
// between. The caller holds mu.
func (s *Selection) sync() error {
	s.want = map[string][]target{}
	clear(s.byPod)
	whole, named := map[string]bool{}, map[string]map[string]bool{}
	for source, rules := range s.rules {
		s.want[source] = targetsOf(rules, s.pods)
		for _, t := range s.want[source] {
			s.byPod[t.cgroupUID] = true
			switch {
			case t.Container == "":
				whole[t.cgroupUID] = true
			case named[t.cgroupUID] == nil:
				named[t.cgroupUID] = map[string]bool{t.Container: true}
			default:
				named[t.cgroupUID][t.Container] = true
			}
		}
	}
	for uid := range whole {
		delete(named, uid)
	}
	var errs []error
	for key := range s.found {
		if !s.byPod[key] {
			delete(s.found, key)
		}
	}
	if len(s.found) < len(s.byPod) {
		pods, err := s.scan()
		if err != nil {
			errs = append(errs, err)
		}
		for uid := range s.byPod {
			if id := pods[uid]; id != 0 {
				s.found[uid] = id
			}
		}
	}
	desired := map[uint64]bool{}
	for _, ts := range s.want {
		for i := range ts {
			t := &ts[i]
			t.CgroupID = s.found[t.cgroupUID]
			if t.CgroupID != 0 {
				desired[t.CgroupID] = true
			}
		}
	}
	// The names go out before the kernel lets the pods' other containers
	// through, and are taken back only after it stops doing so.
	if len(named) > 0 {
		s.named.Store(&named)
	}
	for id := range desired {
		if !s.in[id] {
			if err := s.kernel.SelectCgroup(id); err != nil {
				errs = append(errs, err)
				continue
			}
			s.in[id] = true
		}
	}
	if err := s.setActive(len(s.rules) > 0 || s.def == RecordSelected); err != nil {
		errs = append(errs, err)
	}
	for id := range s.in {
		if !desired[id] {
			if err := s.kernel.UnselectCgroup(id); err != nil {
				errs = append(errs, err)
				continue
			}
			delete(s.in, id)
		}
	}
	if len(named) == 0 {
		s.named.Store(nil)
	}
	return errors.Join(errs...)
}

func (s *Selection) setActive(on bool) error {
	if on == s.active {
		return nil
	}
	if err := s.kernel.SetSelectionActive(on); err != nil {
		return err
	}
	s.active = on
	return nil
}

// targetsOf applies rules to pods: a pod that any rule takes whole is one
// target, else each container some rule names.
func targetsOf(rules []Rule, pods map[string]*corev1.Pod) []target {
	var out []target
	for _, key := range slices.Sorted(maps.Keys(pods)) {
		pod := pods[key]
		base := target{
			Target:    Target{Namespace: pod.Namespace, Pod: pod.Name, PodUID: string(pod.UID)},
			cgroupUID: kube.PodCgroupUID(pod),
		}
		whole, names := false, map[string]bool{}
		for _, r := range rules {
			if !r.Matches(pod) {
				continue
			}
			whole = whole || len(r.Containers) == 0
			for _, c := range r.Containers {
				names[c] = true
			}
		}
		if whole {
			base.Containers = slices.Sorted(maps.Keys(containerSpecNames(pod)))
			out = append(out, base)
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(names)) {
			t := base
			t.Container, t.Containers = name, []string{name}
			out = append(out, t)
		}
	}
	return out
}

// containerSpecNames are the names of every container the pod declares.
func containerSpecNames(pod *corev1.Pod) map[string]bool {
	names := map[string]bool{}
	for _, c := range pod.Spec.InitContainers {
		names[c.Name] = true
	}
	for _, c := range pod.Spec.Containers {
		names[c.Name] = true
	}
	for _, c := range pod.Spec.EphemeralContainers {
		names[c.Name] = true
	}
	return names
}

// scan walks the cgroup2 tree once and returns the ids of the pod cgroups
// it finds, by pod cgroup UID; it does not descend into pods, containers
// or their sub-cgroups. Directories that vanish while it walks are
// skipped.
func (s *Selection) scan() (map[string]uint64, error) {
	pods := map[string]uint64{}
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == s.root {
				return err
			}
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		c := cgroup.ParsePath(strings.TrimPrefix(p, s.root))
		if c.ID != "" {
			return fs.SkipDir
		}
		if c.PodUID == "" {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				pods[c.PodUID] = st.Ino
			}
		}
		return fs.SkipDir
	})
	if err != nil {
		return pods, fmt.Errorf("scan cgroup tree %s: %w", s.root, err)
	}
	return pods, nil
}
