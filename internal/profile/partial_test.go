package profile

import (
	"testing"
)

// TestPartials: two gateway replicas each hold part of one workload's
// checks and emit their cumulative partial profile several times (every
// interval, and again after a restart that restored it); the merged profile
// counts every check exactly once, and equals the profile of all checks
// built in one place.
func TestPartials(t *testing.T) {
	obs := func(sec, capID int) Observation {
		return Observation{Resource: webNode1, Check: chk(at(sec), capID, "/usr/sbin/nginx", "bind", 1, 0)}
	}
	var all []Observation
	gw := map[string]*Builder{"gw-0": NewBuilder(), "gw-1": NewBuilder()}
	var ps Partials
	emit := func(writer string) {
		for _, p := range gw[writer].Profiles() {
			ps.Add(writer, p)
		}
	}
	for i, step := range []struct {
		writer string
		capID  int
	}{{"gw-0", 10}, {"gw-0", 10}, {"gw-1", 10}, {"gw-0", 12}, {"gw-1", 21}, {"gw-1", 10}} {
		o := obs(i, step.capID)
		all = append(all, o)
		gw[step.writer].Add(o)
		emit(step.writer) // every state, so older partials are in too
	}
	emit("gw-0") // emitted again unchanged: at shutdown, after a restart
	if ps.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (one workload, two writers)", ps.Len())
	}
	got := ps.Merged()
	want := build(all)
	if len(got) != 1 || len(want) != 1 {
		t.Fatalf("%d merged profiles, %d built, want 1 each", len(got), len(want))
	}
	if got[0].Checks != 6 || got[0].Checks != want[0].Checks {
		t.Errorf("merged checks = %d, want 6 (built in one place: %d)", got[0].Checks, want[0].Checks)
	}
	if len(got[0].Capabilities) != len(want[0].Capabilities) {
		t.Fatalf("merged capabilities %+v, want %+v", got[0].Capabilities, want[0].Capabilities)
	}
	for i := range got[0].Capabilities {
		g, w := got[0].Capabilities[i], want[0].Capabilities[i]
		if g.ID != w.ID || g.Granted != w.Granted || g.Denied != w.Denied || g.Verdict != w.Verdict {
			t.Errorf("capability %d: merged %+v, want %+v", w.ID, g, w)
		}
	}
}
