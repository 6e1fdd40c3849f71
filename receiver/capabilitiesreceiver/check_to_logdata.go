package capabilitiesreceiver

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/receiver/capabilitiesreceiver/internal/metadata"
)

// checksToLogs maps recorded checks to log records, one ResourceLogs per
// container and one for the host, so that k8sattributes can associate them
// by container.id or k8s.pod.uid. attrs is scratch space reused across calls.
func checksToLogs(checks []check.Check, version string, attrs *[]check.Attr) plog.Logs {
	logs := plog.NewLogs()
	byResource := make(map[check.ResourceKey]plog.LogRecordSlice, 4)
	for i := range checks {
		c := &checks[i]
		key := c.ResourceKey()
		records, ok := byResource[key]
		if !ok {
			rl := logs.ResourceLogs().AppendEmpty()
			*attrs = c.AppendResource((*attrs)[:0])
			putAttributes(rl.Resource().Attributes(), *attrs)
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName(metadata.ScopeName)
			sl.Scope().SetVersion(version)
			records = sl.LogRecords()
			byResource[key] = records
		}
		lr := records.AppendEmpty()
		ts := pcommon.NewTimestampFromTime(c.Time)
		lr.SetTimestamp(ts)
		lr.SetObservedTimestamp(ts)
		lr.SetEventName(check.EventName)
		lr.SetSeverityNumber(plog.SeverityNumber(c.Severity()))
		lr.SetSeverityText(c.Severity().String())
		lr.Body().SetStr(c.Body())
		*attrs = c.AppendAttributes((*attrs)[:0])
		putAttributes(lr.Attributes(), *attrs)
	}
	return logs
}

func putAttributes(m pcommon.Map, attrs []check.Attr) {
	m.EnsureCapacity(len(attrs))
	for _, a := range attrs {
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
