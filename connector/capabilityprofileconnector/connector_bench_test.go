package capabilityprofileconnector

import (
	"context"
	"strconv"
	"testing"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/capprof/capprof/internal/check"
)

// BenchmarkConsumeLogs feeds batches of 1000 check records of 10 workloads
// on 4 nodes, as a gateway receives them; it reports records per second.
func BenchmarkConsumeLogs(b *testing.B) {
	logs := plog.NewLogs()
	for w := range 10 {
		for node := range 4 {
			res := workload("node-"+strconv.Itoa(node), "web-"+strconv.Itoa(node))
			res.Kubernetes.Deployment = "web-" + strconv.Itoa(w)
			checks := make([]check.Check, 25)
			for i := range checks {
				checks[i] = grant(capChown, "/bin/chown", "fchownat", i)
			}
			checkRecords(logs, res, checks...)
		}
	}
	c, _ := newTestConnector(b, testConfig(), consumertest.NewNop())
	n := logs.LogRecordCount()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := c.ConsumeLogs(context.Background(), logs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
