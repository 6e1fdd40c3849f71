package output

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/check"
)

// logsServer is an in-process OTLP logs receiver that keeps what it gets.
type logsServer struct {
	collogspb.UnimplementedLogsServiceServer
	fail error // returned by every Export when set

	mu  sync.Mutex
	got []*logspb.ResourceLogs
}

func (s *logsServer) Export(_ context.Context, req *collogspb.ExportLogsServiceRequest) (*collogspb.ExportLogsServiceResponse, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, req.GetResourceLogs()...)
	return &collogspb.ExportLogsServiceResponse{}, nil
}

// testVersion is the capprof version the tests' records carry.
const testVersion = "v1.2.3"

// received is one record as the server saw it, with its resource.
type received struct {
	resource map[string]string
	scope    string // name@version
	record   *logspb.LogRecord
}

func (s *logsServer) records() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []received
	for _, rl := range s.got {
		res := map[string]string{}
		for _, kv := range rl.GetResource().GetAttributes() {
			v := kv.GetValue()
			res[kv.GetKey()] = v.GetStringValue()
			if _, ok := v.GetValue().(*commonpb.AnyValue_IntValue); ok {
				res[kv.GetKey()] = strconv.FormatInt(v.GetIntValue(), 10)
			}
		}
		for _, sl := range rl.GetScopeLogs() {
			for _, r := range sl.GetLogRecords() {
				scope := sl.GetScope().GetName() + "@" + sl.GetScope().GetVersion()
				out = append(out, received{resource: res, scope: scope, record: r})
			}
		}
	}
	return out
}

// startLogsServer serves srv on 127.0.0.1 and returns its "host:port".
func startLogsServer(t *testing.T, srv *logsServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	collogspb.RegisterLogsServiceServer(gs, srv)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	return lis.Addr().String()
}

// cleanOTelEnv keeps the developer's OTEL_* settings out of the test: the
// exporter and the SDK treat empty variables as unset.
func cleanOTelEnv(t *testing.T) {
	t.Helper()
	for _, name := range tlsEnv {
		t.Setenv(name, "")
	}
	for _, name := range []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
		"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
		"OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
		"OTEL_RESOURCE_ATTRIBUTES", "OTEL_SERVICE_NAME",
	} {
		t.Setenv(name, "")
	}
}

const otherContainerID = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d"

// twoContainers is the fixture plus a check from a second container
// (docker, no pod): host, container A twice, container B once.
func twoContainers() []check.Check {
	checks := fixture()
	b := checks[1]
	b.Container = cgroup.Container{ID: otherContainerID, Runtime: cgroup.RuntimeDocker}
	b.Cap = 13 // CAP_NET_RAW
	b.Denied = true
	return append(checks, b)
}

// wantResources maps container.id ("" for the host) to the container's
// resource attributes the collector must see and the capability names of
// its records. The resource also describes the checking process
// (process.*, linux.*), one resource per process.
var wantResources = map[string]struct {
	attrs map[string]string
	caps  []string
}{
	"": {attrs: map[string]string{"host.name": "node-1"}, caps: []string{"CAP_SYS_ADMIN"}},
	testContainerID: {attrs: map[string]string{
		"host.name": "node-1", "container.id": testContainerID,
		"container.runtime.name": "containerd", "k8s.pod.uid": testPodUID,
	}, caps: []string{"CAP_NET_ADMIN", "CAP_SYS_ADMIN"}},
	otherContainerID: {attrs: map[string]string{
		"host.name": "node-1", "container.id": otherContainerID, "container.runtime.name": "docker",
	}, caps: []string{"CAP_NET_RAW"}},
}

func checkReceived(t *testing.T, got []received) {
	t.Helper()
	byContainer := map[string][]string{}
	for _, r := range got {
		id := r.resource["container.id"]
		want, ok := wantResources[id]
		if !ok {
			t.Errorf("record from unexpected resource %v", r.resource)
			continue
		}
		if r.resource[check.AttrPID] == "" {
			t.Errorf("resource %q without %s: %v", id, check.AttrPID, r.resource)
		}
		for k := range r.resource {
			if _, ok := want.attrs[k]; !ok && !strings.HasPrefix(k, "process.") && !strings.HasPrefix(k, "linux.") {
				t.Errorf("resource %q has %s, want only %v and the process's", id, k, want.attrs)
			}
		}
		for k, v := range want.attrs {
			if r.resource[k] != v {
				t.Errorf("resource %q: %s = %q, want %q", id, k, r.resource[k], v)
			}
		}
		if r.record.GetEventName() != check.EventName {
			t.Errorf("eventName = %q, want %q", r.record.GetEventName(), check.EventName)
		}
		if want := check.ScopeName + "@" + testVersion; r.scope != want {
			t.Errorf("scope = %s, want %s", r.scope, want)
		}
		if r.record.GetTimeUnixNano() == 0 || r.record.GetObservedTimeUnixNano() == 0 {
			t.Errorf("record without timestamps: %v", r.record)
		}
		var capName string
		for _, kv := range r.record.GetAttributes() {
			if kv.GetKey() == check.AttrCapName {
				capName = kv.GetValue().GetStringValue()
			}
		}
		wantSev := logspb.SeverityNumber_SEVERITY_NUMBER_INFO
		if strings.Contains(r.record.GetBody().GetStringValue(), " denied ") {
			wantSev = logspb.SeverityNumber_SEVERITY_NUMBER_WARN
		}
		if r.record.GetSeverityNumber() != wantSev {
			t.Errorf("%s: severity %v, want %v", r.record.GetBody().GetStringValue(), r.record.GetSeverityNumber(), wantSev)
		}
		byContainer[id] = append(byContainer[id], capName)
	}
	for id, want := range wantResources {
		got := byContainer[id]
		slices.Sort(got)
		if !slices.Equal(got, want.caps) {
			t.Errorf("container %q: got records %v, want %v", id, got, want.caps)
		}
	}
}

func TestOTLPRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		endpoint func(addr string) string
	}{
		{name: "host:port is plaintext", endpoint: func(addr string) string { return addr }},
		{name: "http URL", endpoint: func(addr string) string { return "http://" + addr }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanOTelEnv(t)
			srv := &logsServer{}
			addr := startLogsServer(t, srv)

			w, err := NewOTLP(t.Context(), tt.endpoint(addr), testVersion)
			if err != nil {
				t.Fatal(err)
			}
			checks := twoContainers()
			if err := w.Write(checks[:2]); err != nil {
				t.Fatal(err)
			}
			if err := w.Write(checks[2:]); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Close = %v", err)
			}
			if err := w.Write(checks); err == nil {
				t.Error("Write after Close succeeded")
			}
			if err := w.Close(); err != nil {
				t.Errorf("second Close = %v", err)
			}
			checkReceived(t, srv.records())
		})
	}
}

// TestOTLPEviction keeps one provider only: evicting providers must neither
// lose their queued records nor shut down the shared exporter.
func TestOTLPEviction(t *testing.T) {
	cleanOTelEnv(t)
	srv := &logsServer{}
	addr := startLogsServer(t, srv)
	w, err := newOTLP(t.Context(), 1, testVersion, exporterOptions(addr, func(string) string { return "" })...)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range twoContainers() {
		if err := w.Write([]check.Check{c}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(w.providers); n != 1 || w.lru.Len() != 1 {
		t.Errorf("kept %d providers (%d in the LRU list), want 1", n, w.lru.Len())
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	checkReceived(t, srv.records())
}

func TestOTLPCloseReportsExportError(t *testing.T) {
	cleanOTelEnv(t)
	// No export before Close: the failed export must be Close's, not the
	// batch timer's, whose errors only reach the OTel error handler.
	t.Setenv("OTEL_BLRP_SCHEDULE_DELAY", "3600000")
	srv := &logsServer{fail: status.Error(codes.InvalidArgument, "rejected by test")}
	addr := startLogsServer(t, srv)
	w, err := NewOTLP(t.Context(), addr, testVersion)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(fixture()); err != nil {
		t.Fatal(err)
	}
	err = w.Close()
	if err == nil || !strings.Contains(err.Error(), "rejected by test") || !strings.Contains(err.Error(), "flush otlp logs") {
		t.Fatalf("Close = %v, want the wrapped export error", err)
	}
}

func TestSecurityFromEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{name: "nothing set", want: false},
		{name: "empty counts as unset", env: map[string]string{"OTEL_EXPORTER_OTLP_INSECURE": ""}, want: false},
		{name: "insecure false", env: map[string]string{"OTEL_EXPORTER_OTLP_INSECURE": "false"}, want: true},
		{name: "logs insecure", env: map[string]string{"OTEL_EXPORTER_OTLP_LOGS_INSECURE": "true"}, want: true},
		{name: "ca certificate", env: map[string]string{"OTEL_EXPORTER_OTLP_CERTIFICATE": "/etc/ca.pem"}, want: true},
		{name: "logs client key", env: map[string]string{"OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY": "/etc/key.pem"}, want: true},
		{name: "unrelated variable", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "a=b"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			if got := securityFromEnv(getenv); got != tt.want {
				t.Errorf("securityFromEnv = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExporterOptionsCount(t *testing.T) {
	none := func(string) string { return "" }
	secured := func(k string) string {
		if k == "OTEL_EXPORTER_OTLP_CERTIFICATE" {
			return "/etc/ca.pem"
		}
		return ""
	}
	tests := []struct {
		name     string
		endpoint string
		getenv   func(string) string
		want     int // options passed: endpoint, plus WithInsecure
	}{
		{name: "empty leaves everything to the environment", endpoint: "", getenv: none, want: 0},
		{name: "host:port adds insecure", endpoint: "collector:4317", getenv: none, want: 2},
		{name: "certificate variable keeps TLS", endpoint: "collector:4317", getenv: secured, want: 1},
		{name: "URL scheme decides", endpoint: "https://collector:4317", getenv: none, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := len(exporterOptions(tt.endpoint, tt.getenv)); got != tt.want {
				t.Errorf("got %d options, want %d", got, tt.want)
			}
		})
	}
}
