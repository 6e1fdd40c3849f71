package checklogs

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/check/checktest"
)

// BenchmarkFloor is what pdata alone costs for BenchmarkLogs' records:
// the same resources, records and attribute kinds with their values
// worked out beforehand, so nothing of the mapping's own work (grouping,
// attribute lists, bodies) is left. No mapping to plog.Logs can be faster.
func BenchmarkFloor(b *testing.B) {
	checks := checktest.Batch(1000)
	const resources = 3 // checktest.Batch repeats three resources
	attrs := make([][]check.Attr, resources)
	for i := range attrs {
		attrs[i] = checks[i].Attributes()
	}
	b.ReportAllocs()
	for b.Loop() {
		logs := plog.NewLogs()
		var records [resources]plog.LogRecordSlice
		for g := range records {
			records[g] = logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
			records[g].EnsureCapacity(len(checks)/resources + 1)
		}
		for i := range checks {
			lr := records[i%resources].AppendEmpty()
			lr.SetTimestamp(1)
			lr.SetObservedTimestamp(1)
			lr.SetEventName(check.EventName)
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.SetSeverityText("INFO")
			lr.Body().SetStr("CAP_NET_BIND_SERVICE granted to pid 77")
			putAttributes(lr.Attributes(), attrs[i%resources])
		}
	}
	b.ReportMetric(float64(b.N*len(checks))/b.Elapsed().Seconds(), "records/s")
}
