package collectortest

import (
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
)

// GatewayConfig is the gateway's config file, as deployed.
const GatewayConfig = "deploy/base/gateway-config.yaml"

// Gateway is one run of the gateway and where it writes.
type Gateway struct {
	*Collector
	OTLP     string // OTLP/gRPC endpoint for the agents
	Metrics  string // the Collector's own metrics, Prometheus
	Profiles string // OTLP/JSON file of the profile records
	Checks   string // OTLP/JSON file of the raw checks forwarded
}

// StartGateway runs deploy/base/gateway-config.yaml as in the cluster, with
// its own OTLP receiver and its 4 MiB message limit, but on loopback ports,
// with its profiles in storage, writing profile records and raw checks to
// files. The interval is long: profiles go out at shutdown, so each run
// emits each changed profile exactly once. env overrides more of the
// config's variables (the last value of a variable wins).
func StartGateway(t testing.TB, storage string, env ...string) *Gateway {
	t.Helper()
	dir := t.TempDir()
	g := &Gateway{OTLP: FreeAddr(t), Metrics: FreeAddr(t),
		Profiles: filepath.Join(dir, "profiles.jsonl"), Checks: filepath.Join(dir, "checks.jsonl")}
	_, metricsPort, _ := net.SplitHostPort(g.Metrics)
	env = append([]string{
		"OTLP_GRPC_ENDPOINT=" + g.OTLP,
		"OTLP_HTTP_ENDPOINT=" + FreeAddr(t),
		"HEALTH_ENDPOINT=" + FreeAddr(t),
		"METRICS_HOST=127.0.0.1",
		"METRICS_PORT=" + metricsPort,
		"PROFILE_INTERVAL=1h",
		"PROFILE_STORAGE_DIR=" + storage,
		"PROFILE_EXPORTERS=[file/profiles]",
		"PROFILE_EXPORT_FILE=" + g.Profiles,
		"CHECK_EXPORTERS=[file/checks]",
		"CHECK_EXPORT_FILE=" + g.Checks,
	}, env...)
	g.Collector = Start(t, CollectorReady, GatewayConfig, env)
	return g
}

// FreeAddr returns a loopback address nothing listens on right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Scrape reads the gateway's own metrics in the Prometheus text format.
func (g *Gateway) Scrape(t testing.TB) string {
	t.Helper()
	resp, err := http.Get("http://" + g.Metrics + "/metrics")
	if err != nil {
		t.Fatalf("scrape the gateway's metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
