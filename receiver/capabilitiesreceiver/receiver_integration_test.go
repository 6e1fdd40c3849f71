//go:build integration

package capabilitiesreceiver

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/testenv"
	"github.com/capprof/capprof/receiver/capabilitiesreceiver/internal/metadatatest"
)

// TestRealCheckArrivesAsLogRecord runs the receiver made by its factory on
// the real kernel and makes dmesg fail as nobody in a cgroup of the test's.
func TestRealCheckArrivesAsLogRecord(t *testing.T) {
	prereq.RequireRoot(t)
	prereq.RequireCommands(t, "setpriv", "dmesg")
	cg := testenv.NewCgroup(t)
	cfg := createDefaultConfig()
	cfg.Cgroups.Include = []string{cg.Rel}
	cfg.MaxBatchDelay = 100 * time.Millisecond
	sink := new(consumertest.LogsSink)
	tt := componenttest.NewTelemetry()
	defer tt.Shutdown(context.Background())
	r, err := NewFactory().CreateLogs(context.Background(), metadatatest.NewSettings(tt), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	// Start returns before the program is attached: wait for it.
	require.Eventually(t, func() bool { return r.(*capabilitiesReceiver).rec.Load() != nil }, 10*time.Second, 10*time.Millisecond)

	cmd := cg.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "dmesg")
	_ = cmd.Run()
	require.NoError(t, r.Shutdown(context.Background()))

	host, _ := os.Hostname()
	var found plog.LogRecord
	var resource pcommon.Resource
	for _, logs := range sink.AllLogs() {
		for i := 0; i < logs.ResourceLogs().Len(); i++ {
			rl := logs.ResourceLogs().At(i)
			records := rl.ScopeLogs().At(0).LogRecords()
			for j := 0; j < records.Len(); j++ {
				lr := records.At(j)
				name, _ := lr.Attributes().Get("linux.capability.name")
				pid, _ := lr.Attributes().Get("process.pid")
				if name.Str() == "CAP_SYSLOG" && pid.Int() == int64(cmd.Process.Pid) {
					found, resource = lr, rl.Resource()
				}
			}
		}
	}
	require.NotEqual(t, plog.LogRecord{}, found, "no CAP_SYSLOG record of dmesg pid %d", cmd.Process.Pid)

	res := resource.Attributes().AsRaw()
	assert.Equal(t, map[string]any{"host.name": host}, res, "a host process's resource")
	attrs := found.Attributes().AsRaw()
	for k, v := range map[string]any{
		"linux.capability.id":          int64(34),
		"linux.capability.verdict":     "denied",
		"linux.capability.audit":       true,
		"linux.user_namespace.level":   int64(0),
		"linux.user_namespace.is_host": true,
		"process.executable.path":      "/usr/bin/dmesg",
		"process.user.id":              int64(65534),
		"linux.cgroup.path":            cg.Rel,
	} {
		assert.Equal(t, v, attrs[k], k)
	}
	assert.Equal(t, "linux.capability.check", found.EventName())
	assert.Equal(t, plog.SeverityNumberWarn, found.SeverityNumber())
	assert.Equal(t, "CAP_SYSLOG denied to /usr/bin/dmesg", found.Body().Str())
	assert.Positive(t, metricSum(t, tt, "otelcol_receiver_accepted_log_records"))
}
