//go:build integration

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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
)

// repo is the repository root, found from this file's path.
func repo(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// collectorBinary builds bin/otelcol-capprof once per test run.
func collectorBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "otelcol-capprof-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "otelcol-capprof")
		cmd := exec.Command("go", "build", "-o", binary, "./cmd/otelcol-capprof")
		cmd.Dir = repo(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build otelcol-capprof: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// collector is a running otelcol-capprof.
type collector struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// receiverReady is what the capabilities receiver logs once it has attached.
const receiverReady = "recording capability checks"

// startCollector runs the binary with a config file of the repository and
// extra --set flags, and waits until the receiver has attached.
func startCollector(t *testing.T, config string, env []string, sets ...string) *collector {
	t.Helper()
	return startCollectorUntil(t, receiverReady, config, env, sets...)
}

// startCollectorUntil runs the binary like startCollector and waits until
// its output says ready.
func startCollectorUntil(t *testing.T, ready, config string, env []string, sets ...string) *collector {
	t.Helper()
	args := []string{"--config=" + filepath.Join(repo(t), config)}
	for _, s := range sets {
		args = append(args, "--set="+s)
	}
	c := &collector{cmd: exec.Command(collectorBinary(t), args...), stderr: &syncBuffer{}, done: make(chan error, 1)}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stderr = c.stderr
	c.cmd.Stdout = c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() { _ = c.cmd.Process.Kill() })
	deadline := time.After(60 * time.Second)
	for !strings.Contains(c.stderr.String(), ready) {
		select {
		case err := <-c.done:
			t.Fatalf("collector exited before %q: %v\n%s", ready, err, c.stderr.String())
		case <-deadline:
			t.Fatalf("collector did not say %q:\n%s", ready, c.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return c
}

// stop sends SIGTERM and waits: the receiver flushes on shutdown.
func (c *collector) stop(t *testing.T) {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.done:
		if err != nil {
			t.Fatalf("collector exited with %v:\n%s", err, c.stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("collector did not stop:\n%s", c.stderr.String())
	}
}

func nobody(cg *testenv.Cgroup, args ...string) *exec.Cmd {
	return cg.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups"}, args...)...)
}

// readLogs reads a file exporter's OTLP/JSON lines.
func readLogs(t *testing.T, path string) []plog.Logs {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []plog.Logs
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		logs, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(sc.Bytes())
		if err != nil {
			t.Fatalf("%s: not OTLP/JSON: %v", path, err)
		}
		out = append(out, logs)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func eachRecord(all []plog.Logs, fn func(res pcommon.Resource, lr plog.LogRecord)) {
	for _, logs := range all {
		for i := 0; i < logs.ResourceLogs().Len(); i++ {
			rl := logs.ResourceLogs().At(i)
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				records := rl.ScopeLogs().At(j).LogRecords()
				for k := 0; k < records.Len(); k++ {
					fn(rl.Resource(), records.At(k))
				}
			}
		}
	}
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
	owned := filepath.Join(t.TempDir(), "owned")
	if err := os.WriteFile(owned, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Chown(owned, 65534, 65534)
	if out, err := cg.Command("chown", "0:0", owned).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	c.stop(t)

	var syslog, total int
	eachRecord(readLogs(t, out), func(res pcommon.Resource, lr plog.LogRecord) {
		total++
		attrs := lr.Attributes().AsRaw()
		if attrs["linux.capability.verdict"] != "denied" {
			t.Errorf("the filter let a %v record through: %v", attrs["linux.capability.verdict"], attrs)
		}
		if attrs["linux.capability.name"] == "CAP_SYSLOG" && attrs["process.pid"] == int64(dmesg.Process.Pid) {
			syslog++
			for k, v := range map[string]any{
				"process.executable.path": "/usr/bin/dmesg", "linux.capability.audit": true,
				"process.user.id": int64(65534), "linux.user_namespace.is_host": true, "linux.cgroup.path": cg.Rel,
			} {
				if attrs[k] != v {
					t.Errorf("%s = %v, want %v", k, attrs[k], v)
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
		t.Fatalf("no CAP_SYSLOG record of dmesg (pid %d) among %d records:\n%s", dmesg.Process.Pid, total, c.stderr.String())
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
	c.stop(t)

	var raised, syslog int
	eachRecord(readLogs(t, out), func(_ pcommon.Resource, lr plog.LogRecord) {
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
	c.stop(t)
	want := truth.stop(t)
	if want == 0 {
		t.Fatal("the ground-truth recording saw no CAP_SYSLOG denial")
	}
	got, temporality := sink.count("linux.capability.checks", map[string]string{
		"linux.capability.name": "CAP_SYSLOG", "linux.capability.verdict": "denied",
	})
	if got != want {
		t.Errorf("count example counted %d CAP_SYSLOG denials (%s), capprof recorded %d\n%s", got, temporality, want, c.stderr.String())
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
			cmd := exec.Command(collectorBinary(t), "--config="+filepath.Join(repo(t), "otelcol-config/local.yaml"), "--set="+tc.set)
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
