package profile

import (
	"container/list"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/check"
)

// DefaultMaxProfiles is how many profiles a Builder keeps unless
// WithMaxProfiles says otherwise.
const DefaultMaxProfiles = 10000

// maxValues bounds each list of names a profile keeps (executables and
// syscalls per capability and class, hosts, images): a profile's size must
// not grow with the number of processes a workload runs.
const maxValues = 16

// Option configures a Builder.
type Option func(*Builder)

// WithMaxProfiles bounds the number of profiles kept; when a new key would
// exceed it, the least recently updated profile is evicted (and counted,
// Evicted). n < 1 means DefaultMaxProfiles.
func WithMaxProfiles(n int) Option {
	return func(b *Builder) {
		if n < 1 {
			n = DefaultMaxProfiles
		}
		b.max = n
	}
}

// WithCommand puts every observation into the one profile of a command, for
// `capprof run`, which records exactly the command's process tree.
func WithCommand(command string) Option {
	return func(b *Builder) { b.command = command }
}

// Builder accumulates observations into profiles. The zero value is not
// usable; call NewBuilder. Not safe for concurrent use.
type Builder struct {
	max     int
	command string
	entries map[Key]*list.Element // of *state
	lru     list.List             // front: most recently updated
	evicted uint64
}

// NewBuilder returns an empty Builder.
func NewBuilder(opts ...Option) *Builder {
	b := &Builder{max: DefaultMaxProfiles, entries: make(map[Key]*list.Element)}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Evicted returns how many profiles were evicted to stay within the bound.
func (b *Builder) Evicted() uint64 { return b.evicted }

// Len returns the number of profiles kept.
func (b *Builder) Len() int { return len(b.entries) }

// Add adds one observation to the profile of its key and marks the
// profile changed (Changed).
func (b *Builder) Add(obs Observation) {
	st := b.state(b.KeyOf(&obs))
	st.add(&obs)
	st.changed = true
}

// KeyOf returns the key of the profile Add would add obs to: callers that
// keep their own per-observation state (the HTML report's timeline) select
// observations by the same key the profiles have.
func (b *Builder) KeyOf(obs *Observation) Key { return keyOf(obs, b.command) }

// Changed returns, sorted by ID, the profiles that observations were added
// to since the last call, and clears their marks: the connector emits a
// profile only when it changed. Restore does not mark profiles changed, so
// profiles carried over a restart are not emitted again until they change.
func (b *Builder) Changed() []Profile {
	var out []Profile
	for e := b.lru.Front(); e != nil; e = e.Next() {
		st := e.Value.(*state)
		if st.changed {
			out = append(out, st.profile())
			st.changed = false
		}
	}
	slices.SortFunc(out, func(a, b Profile) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// state returns the state of key, created (evicting the least recently
// updated one when full) if needed, and marks it the most recently updated.
func (b *Builder) state(key Key) *state {
	if e, ok := b.entries[key]; ok {
		b.lru.MoveToFront(e)
		return e.Value.(*state)
	}
	for len(b.entries) >= b.max {
		oldest := b.lru.Back()
		delete(b.entries, oldest.Value.(*state).key)
		b.lru.Remove(oldest)
		b.evicted++
	}
	st := &state{key: key, caps: make(map[int]*capState)}
	b.entries[key] = b.lru.PushFront(st)
	return st
}

// Profiles returns every profile, with its advice, sorted by ID. The result
// shares nothing with the Builder.
func (b *Builder) Profiles() []Profile {
	out := make([]Profile, 0, len(b.entries))
	for e := b.lru.Front(); e != nil; e = e.Next() {
		out = append(out, e.Value.(*state).profile())
	}
	slices.SortFunc(out, func(a, b Profile) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// MarkChanged marks the profiles of keys changed again, for a caller whose
// emission of Changed's profiles failed; keys evicted since are skipped.
func (b *Builder) MarkChanged(keys ...Key) {
	for _, k := range keys {
		if e, ok := b.entries[k]; ok {
			e.Value.(*state).changed = true
		}
	}
}

// Restore merges profiles (from Profiles, or decoded from the JSON output)
// into the Builder, as if their observations had been added again: counts
// add up, windows widen, name lists are united. The connector uses it to
// carry profiles over a restart. Each restored profile counts as updated
// now; the bound applies.
func (b *Builder) Restore(profiles ...Profile) {
	for i := range profiles {
		p := &profiles[i]
		b.state(p.Key).merge(p)
	}
}

// state is the accumulated profile of one key.
type state struct {
	key          Key
	window       window
	observations uint64
	checks       uint64
	hosts        boundedSet
	images       boundedSet
	effective    caps.Set
	declared     *Declared
	caps         map[int]*capState
	// changed: observations were added since the last Changed.
	changed bool
}

// capState is one capability's evidence, by class.
type capState struct {
	ev [numClasses]*evState
}

// evState accumulates one class of checks of one capability.
type evState struct {
	granted, denied, auditUnknown uint64
	window                        window
	exes, syscalls                boundedSet
}

func (st *state) add(o *Observation) {
	c := &o.Check
	n := c.Count
	if n == 0 {
		n = 1 // a record without a count stands for one check
	}
	st.observations++
	st.checks += n
	st.window.see(c.Time, c.Time)
	if h := hostOf(o); h != "" {
		st.hosts.add(h)
	}
	if img := imageOf(o); img != "" {
		st.images.add(img)
	}
	if d := declaredOf(o); d != nil {
		st.declared = d
	}

	class := classify(o)
	if holdsEffective(class) {
		st.effective |= c.Effective
	}
	cs := st.caps[c.Cap]
	if cs == nil {
		cs = &capState{}
		st.caps[c.Cap] = cs
	}
	ev := cs.ev[class]
	if ev == nil {
		ev = &evState{}
		cs.ev[class] = ev
	}
	if c.Denied {
		ev.denied += n
	} else {
		ev.granted += n
	}
	if c.Audit == check.AuditUnknown {
		ev.auditUnknown += n
	}
	ev.window.see(c.Time, c.Time)
	if exe := c.Process.ExecutablePath; exe != "" {
		ev.exes.add(exe)
	}
	if sc := syscallLabel(c); sc != "" {
		ev.syscalls.add(sc)
	}
}

// holdsEffective reports whether the effective set of a check of this class
// is what the workload holds under its securityContext: not for runtime
// setup (the runtime's set), foreign credentials (someone else's) or
// namespaced checks (a full set relative to the workload's own namespace).
func holdsEffective(c Class) bool { return c == ClassOwn || c == ClassNotAudited }

// syscallLabel names the syscall of a check: its name, "#<number>" when the
// name is unknown, "" outside a syscall.
func syscallLabel(c *check.Check) string {
	if c.Syscall < 0 {
		return ""
	}
	if c.SyscallName != "" {
		return c.SyscallName
	}
	return "#" + strconv.Itoa(c.Syscall)
}

// merge adds a profile's data, for Restore.
func (st *state) merge(p *Profile) {
	st.observations += p.Observations
	st.checks += p.Checks
	st.window.see(p.FirstSeen, p.LastSeen)
	st.hosts.merge(p.Hosts, p.HostsTruncated)
	st.images.merge(p.Images, p.ImagesTruncated)
	if eff, err := caps.ParseSet(strings.Join(p.Effective, ",")); err == nil {
		st.effective |= eff
	}
	if p.Declared != nil {
		st.declared = p.Declared.clone()
	}
	for _, c := range p.Capabilities {
		cs := st.caps[c.ID]
		if cs == nil {
			cs = &capState{}
			st.caps[c.ID] = cs
		}
		for _, e := range c.Evidence {
			class, ok := classOfEvidence(e.Class)
			if !ok {
				continue // written by a newer version; nothing to merge it into
			}
			ev := cs.ev[class]
			if ev == nil {
				ev = &evState{}
				cs.ev[class] = ev
			}
			ev.granted += e.Granted
			ev.denied += e.Denied
			ev.auditUnknown += e.AuditUnknown
			ev.window.see(e.FirstSeen, e.LastSeen)
			ev.exes.merge(e.Executables, e.ExecutablesTruncated)
			ev.syscalls.merge(e.Syscalls, e.SyscallsTruncated)
		}
	}
}

// evidenceClass is the Evidence.Class of a Class.
func evidenceClass(c Class) string {
	switch c {
	case ClassOwn:
		return EvidenceOwn
	case ClassNamespaced:
		return EvidenceNamespaced
	}
	return c.Reason()
}

// classOfEvidence is the inverse of evidenceClass.
func classOfEvidence(s string) (Class, bool) {
	for c := range numClasses {
		if evidenceClass(c) == s {
			return c, true
		}
	}
	return 0, false
}

// profile builds the Profile of a state, advice included.
func (st *state) profile() Profile {
	p := Profile{
		ID:              st.key.String(),
		Kind:            st.key.Kind(),
		Key:             st.key,
		FirstSeen:       st.window.first,
		LastSeen:        st.window.last,
		Observations:    st.observations,
		Checks:          st.checks,
		Hosts:           st.hosts.list(),
		HostsTruncated:  st.hosts.truncated,
		Images:          st.images.list(),
		ImagesTruncated: st.images.truncated,
		Effective:       names(st.effective),
		Declared:        st.declared.clone(),
		Capabilities:    make([]Capability, 0, len(st.caps)),
	}
	ids := make([]int, 0, len(st.caps))
	for id := range st.caps {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		p.Capabilities = append(p.Capabilities, st.caps[id].capability(id))
	}
	p.Advice = advise(&p, st.effective)
	return p
}

// names returns the "CAP_" names of a set, never nil.
func names(s caps.Set) []string {
	if n := s.Names(); n != nil {
		return n
	}
	return []string{}
}

func (cs *capState) capability(id int) Capability {
	c := Capability{Name: caps.Name(id), ID: id, Evidence: []Evidence{}}
	var w window
	for class, ev := range cs.ev {
		if ev == nil {
			continue
		}
		if Class(class).ignored() {
			c.Ignored += ev.granted + ev.denied
		} else {
			c.Granted += ev.granted
			c.Denied += ev.denied
		}
		w.see(ev.window.first, ev.window.last)
		c.Evidence = append(c.Evidence, Evidence{
			Class:                evidenceClass(Class(class)),
			Granted:              ev.granted,
			Denied:               ev.denied,
			AuditUnknown:         ev.auditUnknown,
			FirstSeen:            ev.window.first,
			LastSeen:             ev.window.last,
			Executables:          ev.exes.list(),
			ExecutablesTruncated: ev.exes.truncated,
			Syscalls:             ev.syscalls.list(),
			SyscallsTruncated:    ev.syscalls.truncated,
		})
	}
	c.FirstSeen, c.LastSeen = w.first, w.last
	c.Verdict = cs.verdict()
	return c
}

// verdict decides a capability's verdict from its evidence: needed when an
// own check was granted; denied-only when own checks were denied and none
// granted; namespaced when only namespaced checks were made; else ignored.
func (cs *capState) verdict() string {
	own, ns := cs.ev[ClassOwn], cs.ev[ClassNamespaced]
	switch {
	case own != nil && own.granted > 0:
		return VerdictNeeded
	case own != nil && own.denied > 0:
		return VerdictDeniedOnly
	case ns != nil && ns.granted+ns.denied > 0:
		return VerdictNamespaced
	}
	return VerdictIgnored
}

// window is the first and last time seen; zero times are not seen.
type window struct{ first, last time.Time }

func (w *window) see(first, last time.Time) {
	if !first.IsZero() && (w.first.IsZero() || first.Before(w.first)) {
		w.first = first
	}
	if !last.IsZero() && (w.last.IsZero() || last.After(w.last)) {
		w.last = last
	}
}

// boundedSet is a sorted set of at most maxValues strings: the first ones
// added. truncated records that more were offered.
type boundedSet struct {
	items     []string
	truncated bool
}

func (s *boundedSet) add(v string) {
	i, found := slices.BinarySearch(s.items, v)
	if found {
		return
	}
	if len(s.items) >= maxValues {
		s.truncated = true
		return
	}
	s.items = slices.Insert(s.items, i, v)
}

func (s *boundedSet) merge(vs []string, truncated bool) {
	for _, v := range vs {
		s.add(v)
	}
	s.truncated = s.truncated || truncated
}

// list returns a copy of the items, never nil.
func (s *boundedSet) list() []string {
	return append(make([]string, 0, len(s.items)), s.items...)
}
