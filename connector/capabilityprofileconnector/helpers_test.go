package capabilityprofileconnector

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
	"github.com/capprof/capprof/internal/profile"
)

// t0 is the time of the first test check.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// Capability numbers used in the tests.
const (
	capChown          = 0
	capNetBindService = 10
	capSysAdmin       = 21
)

// workload is the resource of replica pod on node: one Deployment's
// container, so every replica shares the profile.
func workload(node, pod string) map[string]string {
	return map[string]string{
		profile.AttrNamespace:      "shop",
		profile.AttrDeploymentName: "web",
		profile.AttrContainerName:  "app",
		profile.AttrPodName:        pod,
		check.AttrHostName:         node,
	}
}

// grant is a granted, audited own check of capID by exe at t0+sec.
func grant(capID int, exe, syscall string, sec int) check.Check {
	return check.Check{
		Time: t0.Add(time.Duration(sec) * time.Second), Cap: capID, Audit: check.Audited, Count: 1,
		UserNS: check.UserNamespace{IsHost: true}, Syscall: -1, SyscallName: syscall,
		Effective: 1<<capChown | 1<<capNetBindService,
		Process:   proc.Info{ExecutablePath: exe},
	}
}

// checkRecords makes one ResourceLogs of check records as the capabilities
// receiver emits them (LogRecord.EventName, check attributes).
func checkRecords(logs plog.Logs, resource map[string]string, checks ...check.Check) {
	rl := logs.ResourceLogs().AppendEmpty()
	for k, v := range resource {
		rl.Resource().Attributes().PutStr(k, v)
	}
	records := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := range checks {
		lr := records.AppendEmpty()
		lr.SetEventName(check.EventName)
		lr.SetTimestamp(pcommon.NewTimestampFromTime(checks[i].Time))
		putCheckAttributes(lr.Attributes(), checks[i].Attributes())
	}
}

func putCheckAttributes(m pcommon.Map, attrs []check.Attr) {
	for _, a := range attrs {
		switch a.Kind {
		case check.KindInt:
			m.PutInt(a.Key, a.Int)
		case check.KindBool:
			m.PutBool(a.Key, a.Bool)
		case check.KindStrings:
			s := m.PutEmptySlice(a.Key)
			for _, v := range a.Strings {
				s.AppendEmpty().SetStr(v)
			}
		default:
			m.PutStr(a.Key, a.Str)
		}
	}
}

// records returns the profile records among logs, by profile id.
func profileRecords(all []plog.Logs) map[string][]plog.LogRecord {
	out := map[string][]plog.LogRecord{}
	for _, logs := range all {
		for i := 0; i < logs.ResourceLogs().Len(); i++ {
			sls := logs.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					lr := lrs.At(k)
					if lr.EventName() != profileEventName {
						continue
					}
					id, _ := lr.Attributes().Get(attrID)
					out[id.Str()] = append(out[id.Str()], lr)
				}
			}
		}
	}
	return out
}

// intAttr and stringsAttr read a profile record's attributes.
func intAttr(lr plog.LogRecord, key string) int64 {
	v, _ := lr.Attributes().Get(key)
	return v.Int()
}

func stringsAttr(lr plog.LogRecord, key string) []string {
	v, ok := lr.Attributes().Get(key)
	if !ok {
		return nil
	}
	out := []string{}
	for i := 0; i < v.Slice().Len(); i++ {
		out = append(out, v.Slice().At(i).Str())
	}
	return out
}
