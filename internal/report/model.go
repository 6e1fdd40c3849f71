package report

import (
	"bytes"
	"fmt"
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/profile"
)

// Meta is what the page says about where its data came from.
type Meta struct {
	// Inputs names the files read, as given.
	Inputs []string
	// Malformed counts input lines that were not OTLP/JSON and were skipped.
	Malformed int
	// Generated is when the page was made.
	Generated time.Time
}

// model is the page's data: the script draws the page from it. Field names
// are short where a field repeats per workload or cell, to keep the page
// small (docs/report.md).
type model struct {
	Generated string       `json:"generated"`
	Inputs    []string     `json:"inputs"`
	Caps      []string     `json:"caps"` // heat map columns, Kubernetes names
	Classes   []string     `json:"classes"`
	Workloads []workload   `json:"workloads"`
	Timeline  timelineData `json:"timeline"`
	Caveats   caveats      `json:"caveats"`
	// Strings are the executables and syscalls attempts name.
	Strings []string `json:"strings"`
}

// Cell classes, indexes into model.Classes: the profile verdicts.
var classes = []string{profile.VerdictNeeded, profile.VerdictDeniedOnly, profile.VerdictNamespaced, profile.VerdictIgnored}

type workload struct {
	ID      string   `json:"id"`
	Kind    string   `json:"kind"`
	First   string   `json:"first"`
	Last    string   `json:"last"`
	Checks  uint64   `json:"checks"`
	Records uint64   `json:"records"`
	Hosts   []string `json:"hosts"`
	// Cells is flat, five numbers a checked capability: column, class,
	// granted, denied, ignored.
	Cells []uint64 `json:"cells"`
	PSS   string   `json:"pss"`
	Add   []string `json:"add"`
	// Advice is the securityContext to paste with its comments: the yaml
	// format (systemd for a host process), exactly as `capprof profile`
	// prints it.
	Advice   string            `json:"advice"`
	Declared *profile.Declared `json:"declared,omitempty"`
	Diff     *profile.Diff     `json:"diff,omitempty"`
	// Change says the diff in words, as the other formats do.
	Change       string                `json:"change,omitempty"`
	Verification *profile.Verification `json:"verification,omitempty"`
	Stopped      string                `json:"stopped,omitempty"`
	Denied       []attempt             `json:"denied"`
	AuditUnknown []string              `json:"audit_unknown"`
}

// attempt is a capability whose own or namespaced checks were denied. Keys
// are short and names are indexes (into model.Caps, model.Classes and
// model.Strings): a workload may have dozens (docs/report.md).
type attempt struct {
	Cap         int    `json:"c"`
	Class       int    `json:"v"`
	Denied      uint64 `json:"n"`
	Executables []int  `json:"e"`
	Syscalls    []int  `json:"s"`
	Truncated   bool   `json:"t,omitempty"`
}

// stringTable numbers the executables and syscalls that attempts name:
// each is written once however many workloads name it.
type stringTable struct {
	list  []string
	index map[string]int
}

func (st *stringTable) ids(names []string) []int {
	out := make([]int, len(names))
	for i, n := range names {
		id, ok := st.index[n]
		if !ok {
			id = len(st.list)
			st.list = append(st.list, n)
			st.index[n] = id
		}
		out[i] = id
	}
	return out
}

// caveats is what the recording cannot tell.
type caveats struct {
	First         string `json:"first"`
	Last          string `json:"last"`
	WindowSeconds int64  `json:"window_seconds"`
	Checks        uint64 `json:"checks"`
	Records       uint64 `json:"records"`
	// AuditUnknown counts checks whose audit flag was unknown; AuditUnknownAdded
	// the workloads whose advice adds a capability on such checks.
	AuditUnknown      uint64 `json:"audit_unknown"`
	AuditUnknownAdded int    `json:"audit_unknown_added"`
	Malformed         int    `json:"malformed"`
	Evicted           uint64 `json:"evicted"`
	Stopped           int    `json:"stopped"`
}

// newModel builds the page's data from the report's profiles.
func (r *Report) newModel(meta Meta) (model, error) {
	m := model{
		Generated: meta.Generated.UTC().Format(time.RFC3339),
		Inputs:    meta.Inputs,
		Classes:   classes,
		Workloads: []workload{},
		Timeline:  r.timeline.data(caps.KubernetesName),
		Caveats:   caveats{Malformed: meta.Malformed, Evicted: r.builder.Evicted()},
	}
	if m.Inputs == nil {
		m.Inputs = []string{}
	}
	last := caps.Last
	profiles := r.Profiles()
	var first, end time.Time
	for i := range profiles {
		p := &profiles[i]
		for _, c := range p.Capabilities {
			last = max(last, c.ID)
		}
		if first.IsZero() || (!p.FirstSeen.IsZero() && p.FirstSeen.Before(first)) {
			first = p.FirstSeen
		}
		if p.LastSeen.After(end) {
			end = p.LastSeen
		}
	}
	for id := 0; id <= last; id++ {
		m.Caps = append(m.Caps, caps.KubernetesName(id))
	}
	strs := &stringTable{list: []string{}, index: map[string]int{}}
	for i := range profiles {
		w, err := newWorkload(&profiles[i], strs)
		if err != nil {
			return model{}, err
		}
		m.Workloads = append(m.Workloads, w)
		addCaveats(&m.Caveats, &profiles[i])
	}
	m.Strings = strs.list
	if !first.IsZero() {
		m.Caveats.First, m.Caveats.Last = formatTime(first), formatTime(end)
		m.Caveats.WindowSeconds = int64(end.Sub(first).Seconds())
	}
	return m, nil
}

func newWorkload(p *profile.Profile, strs *stringTable) (workload, error) {
	format := profile.FormatYAML
	if p.Kind == profile.KeyHost {
		format = profile.FormatSystemd
	}
	var advice bytes.Buffer
	if err := profile.Write(&advice, format, []profile.Profile{*p}); err != nil {
		return workload{}, fmt.Errorf("advice of %s: %w", p.ID, err)
	}
	w := workload{
		ID: p.ID, Kind: p.Kind, First: formatTime(p.FirstSeen), Last: formatTime(p.LastSeen),
		Checks: p.Checks, Records: p.Observations, Hosts: p.Hosts,
		Cells: make([]uint64, 0, 5*len(p.Capabilities)),
		PSS:   p.Advice.PSSLevel, Add: p.Advice.Add, Advice: advice.String(),
		Declared: p.Declared, Diff: p.Advice.Diff, Verification: p.Verification, Stopped: p.Stopped,
		Denied: []attempt{}, AuditUnknown: p.Advice.AuditUnknown,
	}
	if w.Diff != nil {
		w.Change = w.Diff.Text()
	}
	for _, c := range p.Capabilities {
		w.Cells = append(w.Cells, uint64(c.ID), uint64(classIndex(c.Verdict)), c.Granted, c.Denied, c.Ignored)
		for _, class := range []string{profile.EvidenceOwn, profile.EvidenceNamespaced} {
			e, ok := c.EvidenceOf(class)
			if !ok || e.Denied == 0 {
				continue
			}
			w.Denied = append(w.Denied, attempt{
				Cap: c.ID, Class: classIndex(c.Verdict), Denied: e.Denied,
				Executables: strs.ids(e.Executables), Syscalls: strs.ids(e.Syscalls),
				Truncated: e.ExecutablesTruncated || e.SyscallsTruncated,
			})
		}
	}
	return w, nil
}

// classIndex is a verdict's index in classes.
func classIndex(verdict string) int {
	for i, c := range classes {
		if c == verdict {
			return i
		}
	}
	return len(classes) - 1 // a verdict this page does not know is shown as ignored
}

func addCaveats(c *caveats, p *profile.Profile) {
	c.Checks += p.Checks
	c.Records += p.Observations
	for _, cp := range p.Capabilities {
		for _, e := range cp.Evidence {
			c.AuditUnknown += e.AuditUnknown
		}
	}
	if len(p.Advice.AuditUnknown) > 0 {
		c.AuditUnknownAdded++
	}
	if p.Stopped != "" {
		c.Stopped++
	}
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
