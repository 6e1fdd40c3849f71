//go:build integration

package e2e

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // the otlp exporter compresses by default

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/testenv"
	"github.com/capprof/capprof/internal/tracer"
	"github.com/capprof/capprof/test/collectortest"
)

// startCollector runs otelcol-capprof with a config file of the
// repository and extra --set flags, and waits until the receiver has
// attached.
// startCollector starts otelcol-capprof with an example config and sets;
// the collector's own metrics are off, as the examples would serve them
// on localhost:8888, which another package's collector may hold.
func startCollector(t *testing.T, config string, env []string, sets ...string) *collectortest.Collector {
	t.Helper()
	return collectortest.Start(t, collectortest.ReceiverReady, config, env,
		append([]string{"service.telemetry.metrics.level=none"}, sets...)...)
}

func nobody(cg *testenv.Cgroup, args ...string) *exec.Cmd {
	return cg.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups"}, args...)...)
}

func requireE2E(t *testing.T) {
	prereq.RequireRoot(t)
	prereq.RequireCommands(t, "go", "setpriv", "dmesg", "chown")
}

func TestDeniedOnlyExample(t *testing.T) {
	requireE2E(t)
	cg := testenv.NewCgroup(t)
	out := filepath.Join(t.TempDir(), "denied.jsonl")
	c := startCollector(t, "otelcol-config/examples/denied-only.yaml", []string{"CAPPROF_DATA_FILE=" + out},
		"receivers.capabilities.cgroups.include=["+cg.Rel+"]", "receivers.capabilities.max_batch_delay=100ms")

	dmesg := nobody(cg, "dmesg")
	_ = dmesg.Run()
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/mnt", &st); err != nil {
		t.Fatal(err)
	}
	selfMnt := st.Ino
	owned := filepath.Join(t.TempDir(), "owned")
	if err := os.WriteFile(owned, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Chown(owned, 65534, 65534)
	if out, err := cg.Command("chown", "0:0", owned).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	c.Stop(t)

	var syslog, total int
	collectortest.EachRecord(collectortest.ReadLogs(t, out), func(res pcommon.Resource, lr plog.LogRecord) {
		total++
		attrs := lr.Attributes().AsRaw()
		process := res.Attributes().AsRaw()
		if attrs["linux.capability.verdict"] != "denied" {
			t.Errorf("the filter let a %v record through: %v", attrs["linux.capability.verdict"], attrs)
		}
		if attrs["linux.capability.name"] == "CAP_SYSLOG" && process["process.pid"] == int64(dmesg.Process.Pid) {
			syslog++
			for k, v := range map[string]any{"linux.capability.audit": true} {
				if attrs[k] != v {
					t.Errorf("%s = %v, want %v", k, attrs[k], v)
				}
			}
			for k, v := range map[string]any{
				"process.executable.path": "/usr/bin/dmesg", "process.user.id": int64(65534), "linux.cgroup.path": cg.Rel,
				// The process context, on the resource: dmesg ran in the
				// test's mount namespace.
				"linux.namespace.mnt.inode": int64(selfMnt),
				// The user namespace it checked in, on the resource too.
				"linux.user_namespace.is_host": true,
			} {
				if process[k] != v {
					t.Errorf("resource %s = %v, want %v", k, process[k], v)
				}
			}
			if lr.EventName() != "linux.capability.check" || lr.SeverityNumber() != plog.SeverityNumberWarn {
				t.Errorf("event %q severity %v", lr.EventName(), lr.SeverityNumber())
			}
			if _, ok := res.Attributes().Get("host.name"); !ok {
				t.Error("resource without host.name")
			}
		}
	})
	if syslog == 0 {
		t.Fatalf("no CAP_SYSLOG record of dmesg (pid %d) among %d records:\n%s", dmesg.Process.Pid, total, c.Output.String())
	}
}

func TestSysAdminSeverityExample(t *testing.T) {
	requireE2E(t)
	prereq.RequireCommands(t, "unshare", "hostname")
	cg := testenv.NewCgroup(t)
	out := filepath.Join(t.TempDir(), "checks.jsonl")
	c := startCollector(t, "otelcol-config/examples/sys-admin-severity.yaml", []string{"CAPPROF_DATA_FILE=" + out},
		"receivers.capabilities.cgroups.include=["+cg.Rel+"]", "receivers.capabilities.max_batch_delay=100ms")
	_ = cg.Command("unshare", "-U", "-r", "hostname", "capprof-e2e").Run()
	_ = nobody(cg, "dmesg").Run()
	c.Stop(t)

	var raised, syslog int
	collectortest.EachRecord(collectortest.ReadLogs(t, out), func(_ pcommon.Resource, lr plog.LogRecord) {
		attrs := lr.Attributes().AsRaw()
		sysAdminDenied := attrs["linux.capability.name"] == "CAP_SYS_ADMIN" && attrs["linux.capability.verdict"] == "denied"
		switch {
		case sysAdminDenied && (lr.SeverityNumber() != plog.SeverityNumberError || lr.SeverityText() != "ERROR"):
			t.Errorf("denied CAP_SYS_ADMIN kept severity %v %q", lr.SeverityNumber(), lr.SeverityText())
		case sysAdminDenied:
			raised++
		case lr.SeverityNumber() == plog.SeverityNumberError:
			t.Errorf("raised a record that is not a denied CAP_SYS_ADMIN check: %v", attrs)
		}
		if attrs["linux.capability.name"] == "CAP_SYSLOG" {
			syslog++
		}
	})
	if raised == 0 || syslog == 0 {
		t.Fatalf("want raised CAP_SYS_ADMIN and untouched CAP_SYSLOG records, got %d and %d", raised, syslog)
	}
}

// metricsSink is an OTLP/gRPC metrics endpoint that keeps what it receives.
type metricsSink struct {
	pmetricotlp.UnimplementedGRPCServer
	mu      sync.Mutex
	metrics []pmetric.Metrics
}

func (s *metricsSink) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := pmetric.NewMetrics()
	req.Metrics().CopyTo(m)
	s.metrics = append(s.metrics, m)
	return pmetricotlp.NewExportResponse(), nil
}

// count adds up the data points of metric name with the given attributes.
func (s *metricsSink) count(name string, want map[string]string) (total int64, temporality pmetric.AggregationTemporality) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, md := range s.metrics {
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			sms := rms.At(i).ScopeMetrics()
			for j := 0; j < sms.Len(); j++ {
				ms := sms.At(j).Metrics()
				for k := 0; k < ms.Len(); k++ {
					m := ms.At(k)
					if m.Name() != name || m.Type() != pmetric.MetricTypeSum {
						continue
					}
					temporality = m.Sum().AggregationTemporality()
					dps := m.Sum().DataPoints()
					for d := 0; d < dps.Len(); d++ {
						if matches(dps.At(d).Attributes(), want) {
							if temporality == pmetric.AggregationTemporalityCumulative {
								total = dps.At(d).IntValue()
							} else {
								total += dps.At(d).IntValue()
							}
						}
					}
				}
			}
		}
	}
	return total, temporality
}

func matches(attrs pcommon.Map, want map[string]string) bool {
	for k, v := range want {
		got, ok := attrs.Get(k)
		if !ok || got.AsString() != v {
			return false
		}
	}
	return true
}

// TestCountExampleCountsEveryCheck counts CAP_SYSLOG denials with the count
// example, exported over OTLP, against capprof's own stream recording of the
// same cgroup as the ground truth.
func TestCountExampleCountsEveryCheck(t *testing.T) {
	requireE2E(t)
	cg := testenv.NewCgroup(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := grpc.NewServer()
	sink := &metricsSink{}
	pmetricotlp.RegisterGRPCServer(server, sink)
	go func() { _ = server.Serve(lis) }()
	defer server.Stop()

	truth := startGroundTruth(t, cg)
	c := startCollector(t, "otelcol-config/examples/count-per-pod.yaml", []string{"OTLP_ENDPOINT=" + lis.Addr().String()},
		"receivers.capabilities.cgroups.include=["+cg.Rel+"]", "receivers.capabilities.max_batch_delay=100ms")
	for i := 0; i < 20; i++ {
		_ = nobody(cg, "dmesg").Run()
	}
	c.Stop(t)
	want := truth.stop(t)
	if want == 0 {
		t.Fatal("the ground-truth recording saw no CAP_SYSLOG denial")
	}
	got, temporality := sink.count("linux.capability.checks", map[string]string{
		"linux.capability.name": "CAP_SYSLOG", "linux.capability.verdict": "denied",
	})
	if got != want {
		t.Errorf("count example counted %d CAP_SYSLOG denials (%s), capprof recorded %d\n%s", got, temporality, want, c.Output.String())
	}
}

// groundTruth is an in-process stream recording of one cgroup's CAP_SYSLOG denials.
type groundTruth struct {
	cancel context.CancelFunc
	done   chan error
	n      *int64
}

type countSink struct{ n *int64 }

func (s countSink) Write(checks []check.Check) error {
	for i := range checks {
		*s.n += int64(checks[i].Count)
	}
	return nil
}

func startGroundTruth(t *testing.T, cg *testenv.Cgroup) *groundTruth {
	t.Helper()
	cfg := controller.DefaultConfig()
	cfg.CgroupInclude = []string{cg.Rel}
	cfg.Tracer.Caps = caps.Set(0).With(34)
	cfg.Tracer.Verdict = tracer.Denied
	ctl, err := controller.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	g := &groundTruth{cancel: cancel, done: make(chan error, 1), n: new(int64)}
	go func() { g.done <- ctl.Run(ctx, countSink{g.n}) }()
	return g
}

func (g *groundTruth) stop(t *testing.T) int64 {
	g.cancel()
	if err := <-g.done; err != nil {
		t.Fatal(err)
	}
	return *g.n
}

// TestBadConfigExitsNonZero checks the collector refuses invalid receiver
// settings before it starts, naming the field.
func TestBadConfigExitsNonZero(t *testing.T) {
	prereq.RequireCommands(t, "go")
	for _, tc := range []struct {
		name, set, field string
	}{
		{"unknown mode", "receivers.capabilities.mode=bogus", "mode"},
		{"negative flush interval", "receivers.capabilities.flush_interval=-1s", "flush_interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(collectortest.OtelcolCapprof(t), "--config="+filepath.Join(collectortest.Repo(), "otelcol-config/local.yaml"), "--set="+tc.set)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("collector did not fail (%v):\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.field) {
				t.Errorf("the error does not name %s:\n%s", tc.field, out)
			}
		})
	}
}
