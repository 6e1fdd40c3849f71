package capabilityprofileconnector

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/capprof/capprof/checklogs"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
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
func workload(node, pod string) check.ResourceFields {
	return check.ResourceFields{HostName: node, Kubernetes: &check.Kubernetes{
		Namespace: "shop", Deployment: "web", ContainerName: "app", PodName: pod,
	}}
}

// resourceOf is res's resource attributes, as a profile observation takes
// them.
func resourceOf(res check.ResourceFields) map[string]string {
	c := check.Check{HostName: res.HostName, Container: res.Container, Kubernetes: res.Kubernetes}
	out := map[string]string{}
	for _, a := range c.Resource() {
		out[a.Key] = a.Str
	}
	return out
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

// checkRecords appends checks made in res to logs, as the capabilities
// receiver emits them.
func checkRecords(logs plog.Logs, res check.ResourceFields, checks ...check.Check) {
	for i := range checks {
		checks[i].HostName, checks[i].Container, checks[i].Kubernetes = res.HostName, res.Container, res.Kubernetes
	}
	new(checklogs.Mapper).Append(logs, checks)
}

// checkAttributes puts c's record attributes into m, as the receiver
// maps them.
func checkAttributes(m pcommon.Map, c check.Check) {
	logs := new(checklogs.Mapper).Logs([]check.Check{c})
	logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().CopyTo(m)
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
