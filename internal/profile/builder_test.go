package profile

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/check"
)

// hostObs is a granted check of the host process exe on node-1.
func hostObs(exe string, capID int) Observation {
	return Observation{Resource: node1, Check: chk(at(0), capID, exe, "x", 1, 0)}
}

func ids(ps []Profile) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

func TestEviction(t *testing.T) {
	tests := []struct {
		name        string
		max         int
		adds        []string // executables, in order; each is its own profile
		want        []string
		wantEvicted uint64
	}{
		{name: "within the bound", max: 3, adds: []string{"/a", "/b", "/c"}, want: []string{"/a", "/b", "/c"}},
		{name: "oldest evicted", max: 2, adds: []string{"/a", "/b", "/c"}, want: []string{"/b", "/c"}, wantEvicted: 1},
		{name: "an update makes a profile recent", max: 2, adds: []string{"/a", "/b", "/a", "/c"}, want: []string{"/a", "/c"}, wantEvicted: 1},
		{name: "evicted twice", max: 1, adds: []string{"/a", "/b", "/c"}, want: []string{"/c"}, wantEvicted: 2},
		{name: "an evicted key starts over", max: 1, adds: []string{"/a", "/b", "/a"}, want: []string{"/a"}, wantEvicted: 2},
		{name: "zero means the default", max: 0, adds: []string{"/a", "/b", "/c"}, want: []string{"/a", "/b", "/c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder(WithMaxProfiles(tt.max))
			for _, exe := range tt.adds {
				b.Add(hostObs(exe, capNetBindService))
			}
			var want []string
			for _, exe := range tt.want {
				want = append(want, "host node-1 "+exe)
			}
			if got := ids(b.Profiles()); !slices.Equal(got, want) {
				t.Errorf("profiles = %v, want %v", got, want)
			}
			if b.Evicted() != tt.wantEvicted {
				t.Errorf("Evicted() = %d, want %d", b.Evicted(), tt.wantEvicted)
			}
			if b.Len() != len(tt.want) {
				t.Errorf("Len() = %d, want %d", b.Len(), len(tt.want))
			}
		})
	}
}

func TestEvictedStartsOver(t *testing.T) {
	b := NewBuilder(WithMaxProfiles(1))
	b.Add(hostObs("/a", capChown))
	b.Add(hostObs("/b", capChown))
	b.Add(hostObs("/a", capKill))
	ps := b.Profiles()
	if len(ps) != 1 || len(ps[0].Capabilities) != 1 || ps[0].Capabilities[0].ID != capKill {
		t.Errorf("profiles = %+v, want /a with only CAP_KILL", ps)
	}
}

func TestDefaultMaxProfiles(t *testing.T) {
	b := NewBuilder()
	for i := range DefaultMaxProfiles + 5 {
		b.Add(hostObs(fmt.Sprintf("/bin/%d", i), capChown))
	}
	if b.Len() != DefaultMaxProfiles || b.Evicted() != 5 {
		t.Errorf("Len() = %d, Evicted() = %d; want %d, 5", b.Len(), b.Evicted(), DefaultMaxProfiles)
	}
}

func TestCounts(t *testing.T) {
	zero := chk(at(0), capChown, "/bin/x", "chown", 0, 0) // no count: stands for one
	many := chk(at(1), capChown, "/bin/x", "chown", 41, 0)
	denied := chk(at(2), capChown, "/bin/x", "chown", 3, 0)
	denied.Denied = true
	probe := chk(at(3), capChown, "/bin/x", "chown", 5, 0)
	probe.Audit = check.NotAudited
	ps := build([]Observation{{Check: zero}, {Check: many}, {Check: denied}, {Check: probe}}, WithCommand("x"))
	p := ps[0]
	if p.Checks != 50 || p.Observations != 4 {
		t.Errorf("checks %d observations %d, want 50 and 4", p.Checks, p.Observations)
	}
	c := p.Capabilities[0]
	if c.Granted != 42 || c.Denied != 3 || c.Ignored != 5 {
		t.Errorf("granted %d denied %d ignored %d, want 42, 3, 5", c.Granted, c.Denied, c.Ignored)
	}
	if !c.FirstSeen.Equal(at(0)) || !c.LastSeen.Equal(at(3)) {
		t.Errorf("capability window %v .. %v", c.FirstSeen, c.LastSeen)
	}
	own, ok := c.EvidenceOf(EvidenceOwn)
	if !ok || own.Granted != 42 || own.Denied != 3 || !own.LastSeen.Equal(at(2)) {
		t.Errorf("own evidence = %+v", own)
	}
}

// TestEffective: the set a workload holds comes from its own checks and its
// NOAUDIT probes, never from runtime setup, foreign credentials or checks in
// a user namespace it made.
func TestEffective(t *testing.T) {
	ownCheck := chk(at(0), capNetBindService, "/bin/x", "bind", 1, setOf(capNetBindService, capKill))
	probe := chk(at(0), capSysAdmin, "/bin/x", "mmap", 1, setOf(capChown))
	probe.Audit, probe.Denied = check.NotAudited, true
	setup := chk(at(0), capSysAdmin, "/usr/bin/runc", "mount", 1, fullSet)
	setup.RuntimeSetup = true
	foreign := chk(at(0), capDacOverride, "/bin/x", "write", 1, setOf(capSysPtrace))
	foreign.ForeignCred = true
	nsUse := chk(at(0), capNetAdmin, "/bin/x", "sendmsg", 1, fullSet)
	nsUse.UserNS = check.UserNamespace{Level: 1}
	ps := build([]Observation{{Check: ownCheck}, {Check: probe}, {Check: setup}, {Check: foreign}, {Check: nsUse}},
		WithCommand("x"))
	want := setOf(capNetBindService, capKill, capChown).Names()
	if got := ps[0].Effective; !slices.Equal(got, want) {
		t.Errorf("effective = %v, want %v", got, want)
	}
	if got := ps[0].Advice.Unused; !slices.Equal(got, []string{"CHOWN", "KILL"}) {
		t.Errorf("unused = %v, want [CHOWN KILL]", got)
	}
}

func TestDeclaredLatestWins(t *testing.T) {
	first := Observation{Resource: map[string]string{AttrDeclaredAdd: "NET_ADMIN"}, Check: chk(at(0), capChown, "/x", "x", 1, 0)}
	none := Observation{Check: chk(at(1), capChown, "/x", "x", 1, 0)}
	second := Observation{Attributes: map[string]string{AttrDeclaredAdd: "CHOWN", AttrDeclaredDrop: "ALL"}, Check: chk(at(2), capChown, "/x", "x", 1, 0)}
	ps := build([]Observation{first, none, second}, WithCommand("x"))
	d := ps[0].Declared
	if d == nil || !slices.Equal(d.Add, []string{"CHOWN"}) || !slices.Equal(d.Drop, []string{"ALL"}) {
		t.Fatalf("declared = %+v, want add [CHOWN] drop [ALL]", d)
	}
	if df := ps[0].Advice.Diff; df == nil || !df.Matches {
		t.Errorf("diff = %+v, want a match", df)
	}
	if ps := build([]Observation{first, none}, WithCommand("x")); ps[0].Declared == nil {
		t.Error("an observation without declared attributes erased the declared securityContext")
	}
}

func TestBoundedLists(t *testing.T) {
	var obs []Observation
	for i := range maxValues + 3 {
		c := chk(at(i), capChown, fmt.Sprintf("/bin/x%02d", i), fmt.Sprintf("sys%02d", i), 1, 0)
		c.HostName = fmt.Sprintf("node-%02d", i)
		res := map[string]string{AttrImageName: "img", AttrImageTag: fmt.Sprintf("v%02d", i)}
		obs = append(obs, Observation{Resource: res, Check: c})
	}
	// One more with a syscall outside the bound and one without a syscall.
	noSyscall := chk(at(99), capChown, "/bin/x00", "", 1, 0)
	noSyscall.Syscall = -1
	obs = append(obs, Observation{Check: noSyscall})
	p := build(obs, WithCommand("x"))[0]
	if len(p.Hosts) != maxValues || !p.HostsTruncated || p.Hosts[0] != "node-00" {
		t.Errorf("hosts = %v truncated %v", p.Hosts, p.HostsTruncated)
	}
	if len(p.Images) != maxValues || !p.ImagesTruncated {
		t.Errorf("images = %v truncated %v", p.Images, p.ImagesTruncated)
	}
	e, _ := p.Capabilities[0].EvidenceOf(EvidenceOwn)
	if len(e.Executables) != maxValues || !e.ExecutablesTruncated || !slices.IsSorted(e.Executables) {
		t.Errorf("executables = %v truncated %v", e.Executables, e.ExecutablesTruncated)
	}
	if len(e.Syscalls) != maxValues || !e.SyscallsTruncated || slices.Contains(e.Syscalls, "") {
		t.Errorf("syscalls = %v truncated %v", e.Syscalls, e.SyscallsTruncated)
	}
}

func TestSyscallLabel(t *testing.T) {
	tests := []struct {
		name string
		nr   int
		sys  string
		want string
	}{
		{name: "named", nr: 49, sys: "bind", want: "bind"},
		{name: "number only", nr: 451, want: "#451"},
		{name: "outside a syscall", nr: -1, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := check.Check{Syscall: tt.nr, SyscallName: tt.sys}
			if got := syscallLabel(&c); got != tt.want {
				t.Errorf("syscallLabel = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestProfilesShareNothing: what Profiles returns stays as it was while the
// Builder goes on, and changing it does not change the Builder.
func TestProfilesShareNothing(t *testing.T) {
	b := NewBuilder()
	for _, o := range fixtureObservations() {
		b.Add(o)
	}
	first := b.Profiles()
	before := jsonOf(t, first)
	for i := range first {
		first[i].Hosts[0] = "changed"
		if len(first[i].Capabilities) > 0 && len(first[i].Capabilities[0].Evidence) > 0 {
			first[i].Capabilities[0].Evidence[0].Executables = append(first[i].Capabilities[0].Evidence[0].Executables, "x")
		}
		if d := first[i].Declared; d != nil {
			d.Add = append(d.Add, "X")
		}
	}
	if again := jsonOf(t, b.Profiles()); again != before {
		t.Errorf("changing returned profiles changed the Builder")
	}
	b.Add(hostObs("/new", capChown))
	if len(b.Profiles()) != len(first)+1 {
		t.Errorf("a new key did not add a profile")
	}
}

// TestRestore: profiles written as JSON and restored into a new Builder give
// the same profiles; restoring into a Builder with data merges.
func TestRestore(t *testing.T) {
	want := build(fixtureObservations())
	b := NewBuilder()
	b.Restore(roundTrip(t, want)...)
	if got := b.Profiles(); !reflect.DeepEqual(got, want) {
		t.Errorf("restored profiles differ\ngot:  %s\nwant: %s", jsonOf(t, got), jsonOf(t, want))
	}

	// Restoring twice doubles the counts and keeps the rest.
	b.Restore(want...)
	for i, p := range b.Profiles() {
		if p.Checks != 2*want[i].Checks || p.Observations != 2*want[i].Observations {
			t.Errorf("%s: checks %d observations %d after a double restore", p.ID, p.Checks, p.Observations)
		}
		if p.Advice.PSSLevel != want[i].Advice.PSSLevel || !slices.Equal(p.Advice.Add, want[i].Advice.Add) {
			t.Errorf("%s: advice changed after a double restore", p.ID)
		}
	}
}

func TestRestoreMerges(t *testing.T) {
	a := build([]Observation{hostObs("/x", capChown)})
	later := hostObs("/x", capKill)
	later.Check.Time = at(30)
	later.Check.Effective = setOf(capKill)
	b := NewBuilder()
	b.Add(later)
	b.Restore(a...)
	p := b.Profiles()[0]
	if len(p.Capabilities) != 2 || !p.FirstSeen.Equal(at(0)) || !p.LastSeen.Equal(at(30)) {
		t.Errorf("merged profile = %+v", p)
	}
	if !slices.Equal(p.Advice.Add, []string{"CHOWN", "KILL"}) {
		t.Errorf("merged advice add = %v", p.Advice.Add)
	}
	if !slices.Equal(p.Effective, []string{caps.Name(capKill)}) {
		t.Errorf("merged effective = %v", p.Effective)
	}
}
