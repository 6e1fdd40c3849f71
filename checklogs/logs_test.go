package checklogs

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/check/checktest"
	"github.com/capprof/capprof/internal/profile"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func writeJSON(t *testing.T, batches ...[]check.Check) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewJSONWriter(&buf, "v1.2.3")
	for _, b := range batches {
		require.NoError(t, w.Write(b))
	}
	require.NoError(t, w.Close())
	require.ErrorIs(t, w.Write(checktest.Checks()), errClosed)
	return buf.Bytes()
}

// TestGolden compares the mapping, as the OTLP/JSON people read, with
// testdata/checks.otlp.jsonl (go test -update rewrites it).
func TestGolden(t *testing.T) {
	got := writeJSON(t, checktest.Checks())
	path := filepath.Join("testdata", "checks.otlp.jsonl")
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
}

func TestLogsShape(t *testing.T) {
	checks := checktest.Checks()
	logs := (&Mapper{Version: "v9"}).Logs(checks)
	rls := logs.ResourceLogs()
	require.Equal(t, 3, rls.Len(), "one ResourceLogs for the host's process, one for each user namespace the container's checked in")
	for _, tt := range []struct {
		name      string
		resource  int
		records   int
		firstTime int // index in checks of the resource's first record
		attrs     map[string]any
	}{
		{name: "host", resource: 0, records: 1, firstTime: 0, attrs: map[string]any{
			check.AttrHostName: "node-1",
			profile.AttrKey:    "host node-1 /usr/bin/dmesg",
		}},
		{name: "container, host user namespace", resource: 1, records: 1, firstTime: 1, attrs: map[string]any{
			check.AttrHostName:         "node-1",
			profile.AttrKey:            "container " + checks[1].Container.ID,
			check.AttrContainerID:      checks[1].Container.ID,
			check.AttrContainerRuntime: "containerd",
			check.AttrPodUID:           checks[1].Container.PodUID,
			check.AttrNSIsHost:         true,
		}},
		{name: "container, its own user namespace", resource: 2, records: 1, firstTime: 2, attrs: map[string]any{
			profile.AttrKey:       "container " + checks[2].Container.ID,
			check.AttrContainerID: checks[2].Container.ID,
			check.AttrNSLevel:     int64(1),
			check.AttrNSOwnerUID:  int64(1000),
			check.AttrNSIsHost:    false,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rl := rls.At(tt.resource)
			res := rl.Resource().Attributes().AsRaw()
			for k, v := range tt.attrs {
				require.Equal(t, v, res[k], k)
			}
			require.Len(t, res, len(checks[tt.firstTime].Resource())+1, "the container's, the process's, the user namespace's and the profile key")
			require.Equal(t, int64(checks[tt.firstTime].PID), res[check.AttrPID])
			require.Equal(t, 1, rl.ScopeLogs().Len())
			sl := rl.ScopeLogs().At(0)
			require.Equal(t, check.ScopeName, sl.Scope().Name())
			require.Equal(t, "v9", sl.Scope().Version())
			require.Equal(t, tt.records, sl.LogRecords().Len())
			lr := sl.LogRecords().At(0)
			c := checks[tt.firstTime]
			require.Equal(t, check.EventName, lr.EventName())
			require.Equal(t, c.Time, lr.Timestamp().AsTime())
			require.Equal(t, c.Body(), lr.Body().Str())
			require.Equal(t, int(c.Severity()), int(lr.SeverityNumber()))
			require.Len(t, c.Attributes(), lr.Attributes().Len())
		})
	}
}

// TestAppendKeepsWhatIsThere: the connector's tests build one plog.Logs
// from several workloads' batches.
func TestAppendKeepsWhatIsThere(t *testing.T) {
	var m Mapper
	checks := checktest.Checks()
	logs := m.Logs(checks[:1])
	m.Append(logs, checks[1:])
	m.Append(logs, nil)
	require.Equal(t, 3, logs.ResourceLogs().Len())
	require.Equal(t, len(checks), logs.LogRecordCount())
}

func BenchmarkLogs(b *testing.B) {
	checks := checktest.Batch(1000)
	var m Mapper
	b.ReportAllocs()
	for b.Loop() {
		_ = m.Logs(checks)
	}
	b.ReportMetric(float64(b.N*len(checks))/b.Elapsed().Seconds(), "records/s")
}
