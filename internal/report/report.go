package report

import (
	"github.com/capprof/capprof/internal/profile"
)

// Report collects what one page shows. The zero value is not usable; call
// New.
type Report struct {
	builder  *profile.Builder
	keep     func(profile.Key) bool
	timeline *timeline
	// extras holds what profiles read back from JSON carry that the
	// Builder does not restore (the verification, why a run stopped), by ID.
	extras map[string]extra
}

type extra struct {
	verification *profile.Verification
	stopped      string
}

// New returns an empty Report that keeps the observations and profiles
// whose key keep accepts (all of them when keep is nil).
func New(keep func(profile.Key) bool) *Report {
	if keep == nil {
		keep = func(profile.Key) bool { return true }
	}
	return &Report{builder: profile.NewBuilder(), keep: keep, timeline: newTimeline(), extras: map[string]extra{}}
}

// Add adds one recorded check.
func (r *Report) Add(obs profile.Observation) {
	if !r.keep(r.builder.KeyOf(&obs)) {
		return
	}
	r.builder.Add(obs)
	n := obs.Check.Count
	if n == 0 {
		n = 1 // a record without a count stands for one check (docs/profiles.md)
	}
	r.timeline.add(obs.Check.Cap, obs.Check.Time, obs.Check.Denied, n)
}

// AddProfiles adds profiles read back from the JSON format (profile.ReadJSON
// of `capprof run --format json` or `capprof profile --format json`): their
// counts merge with the checks of the same key, and their verification is
// shown. Their checks are not on the timeline: the JSON has no times but
// each capability's first and last.
func (r *Report) AddProfiles(ps []profile.Profile) {
	for _, p := range ps {
		if !r.keep(p.Key) {
			continue
		}
		r.builder.Restore(p)
		if p.Verification != nil || p.Stopped != "" {
			r.extras[p.ID] = extra{verification: p.Verification, stopped: p.Stopped}
		}
	}
}

// Profiles returns the profiles the page shows, sorted by ID, with the
// verifications of AddProfiles.
func (r *Report) Profiles() []profile.Profile {
	ps := r.builder.Profiles()
	for i := range ps {
		if e, ok := r.extras[ps[i].ID]; ok {
			ps[i].Verification, ps[i].Stopped = e.verification, e.stopped
		}
	}
	return ps
}
