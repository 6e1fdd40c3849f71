package checklogs

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/profile"
)

// Mapper maps batches of checks to log records. It keeps scratch space
// between batches, so it is not safe for concurrent use; the zero value
// maps with an empty scope version.
type Mapper struct {
	// Version is the instrumentation scope's version (capprof's build).
	Version string

	attrs  []check.Attr
	groups map[check.ResourceKey]int // resource -> index in order
	order  []group
	idx    []int32 // check -> index in order
	// bodies holds the batch's bodies: a body names the capability, the
	// verdict and the process, and a process makes the same few checks
	// over and over, so most records share one instead of building it.
	bodies map[bodyKey]string
}

// bodyKey is what a body says beyond its resource's process.
type bodyKey struct {
	group  int32
	cap    int32
	denied bool
}

// group is one resource of a batch: its first check and how many it has.
type group struct {
	first   int
	n       int
	records plog.LogRecordSlice
}

// Logs maps checks to a new plog.Logs.
func (m *Mapper) Logs(checks []check.Check) plog.Logs {
	logs := plog.NewLogs()
	m.Append(logs, checks)
	return logs
}

// Append appends checks to logs: one ResourceLogs per resource, in the
// order the resources first appear, so that k8s_attributes can associate
// them by container.id or k8s.pod.uid.
func (m *Mapper) Append(logs plog.Logs, checks []check.Check) {
	if len(checks) == 0 {
		return
	}
	if m.groups == nil {
		m.groups = make(map[check.ResourceKey]int)
		m.bodies = make(map[bodyKey]string)
	}
	clear(m.groups)
	clear(m.bodies)
	m.order = m.order[:0]
	// First pass: count each resource's records, so every slice is sized
	// once instead of growing record by record.
	if cap(m.idx) < len(checks) {
		m.idx = make([]int32, len(checks))
	}
	idx := m.idx[:len(checks)]
	for i := range checks {
		key := checks[i].ResourceKey()
		g, ok := m.groups[key]
		if !ok {
			g = len(m.order)
			m.groups[key] = g
			m.order = append(m.order, group{first: i})
		}
		m.order[g].n++
		idx[i] = int32(g)
	}
	rls := logs.ResourceLogs()
	rls.EnsureCapacity(rls.Len() + len(m.order))
	for g := range m.order {
		rl := rls.AppendEmpty()
		first := &checks[m.order[g].first]
		m.attrs = profile.AppendKey(first.AppendResource(m.attrs[:0]), first)
		putAttributes(rl.Resource().Attributes(), m.attrs)
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName(check.ScopeName)
		sl.Scope().SetVersion(m.Version)
		records := sl.LogRecords()
		records.EnsureCapacity(m.order[g].n)
		m.order[g].records = records
	}
	for i := range checks {
		m.record(m.order[idx[i]].records.AppendEmpty(), &checks[i], idx[i])
	}
}

func (m *Mapper) record(lr plog.LogRecord, c *check.Check, group int32) {
	ts := timestamp(c.Time)
	lr.SetTimestamp(ts)
	lr.SetObservedTimestamp(ts)
	lr.SetEventName(check.EventName)
	sev := c.Severity()
	lr.SetSeverityNumber(plog.SeverityNumber(sev))
	lr.SetSeverityText(sev.String())
	bk := bodyKey{group: group, cap: int32(c.Cap), denied: c.Denied}
	body, ok := m.bodies[bk]
	if !ok {
		body = c.Body()
		m.bodies[bk] = body
	}
	lr.Body().SetStr(body)
	m.attrs = c.AppendAttributes(m.attrs[:0])
	putAttributes(lr.Attributes(), m.attrs)
}

// timestamp is t in OTLP, or 0 ("unknown") for the zero time and times
// before 1970, which UnixNano cannot represent.
func timestamp(t time.Time) pcommon.Timestamp {
	if t.IsZero() || t.Before(time.Unix(0, 0)) {
		return 0
	}
	return pcommon.Timestamp(t.UnixNano())
}

// putAttributes puts attrs, whose keys are distinct, into the empty map m.
func putAttributes(m pcommon.Map, attrs []check.Attr) {
	m.EnsureCapacity(len(attrs))
	for i := range attrs {
		a := &attrs[i]
		switch a.Kind {
		case check.KindInt:
			m.PutInt(a.Key, a.Int)
		case check.KindBool:
			m.PutBool(a.Key, a.Bool)
		case check.KindStrings:
			s := m.PutEmptySlice(a.Key)
			s.EnsureCapacity(len(a.Strings))
			for _, v := range a.Strings {
				s.AppendEmpty().SetStr(v)
			}
		default:
			m.PutStr(a.Key, a.Str)
		}
	}
}
