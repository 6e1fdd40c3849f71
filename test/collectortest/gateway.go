package collectortest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/capprof/capprof/internal/testenv"
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
	g, err := LaunchGateway(OtelcolCapprof(t), t.TempDir(), storage, env...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Kill)
	return g
}

// LaunchGateway is StartGateway for programs other than tests: it runs the
// otelcol-capprof binary bin, writing its files into dir; the caller kills
// or terminates it.
func LaunchGateway(bin, dir, storage string, env ...string) (*Gateway, error) {
	addrs := make([]string, 4)
	for i := range addrs {
		a, err := PickFreeAddr()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
	}
	g := &Gateway{OTLP: addrs[0], Metrics: addrs[1],
		Profiles: filepath.Join(dir, "profiles.jsonl"), Checks: filepath.Join(dir, "checks.jsonl")}
	_, metricsPort, _ := net.SplitHostPort(g.Metrics)
	env = append([]string{
		"OTLP_GRPC_ENDPOINT=" + g.OTLP,
		"OTLP_HTTP_ENDPOINT=" + addrs[2],
		"HEALTH_ENDPOINT=" + addrs[3],
		"METRICS_HOST=127.0.0.1",
		"METRICS_PORT=" + metricsPort,
		"PROFILE_INTERVAL=1h",
		"PROFILE_STORAGE_DIR=" + storage,
		"PROFILE_EXPORTERS=[file/profiles]",
		"PROFILE_EXPORT_FILE=" + g.Profiles,
		"CHECK_EXPORTERS=[file/checks]",
		"CHECK_EXPORT_FILE=" + g.Checks,
	}, env...)
	c, err := Launch(bin, CollectorReady, []string{GatewayConfig}, env)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.Collector = c
	return g, nil
}

// FreeAddr returns a loopback address nothing listens on right now, for
// a collector to listen on (testenv.FreePort says how it is chosen).
func FreeAddr(t testing.TB) string {
	t.Helper()
	a, err := PickFreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// PickFreeAddr is FreeAddr for programs other than tests.
func PickFreeAddr() (string, error) {
	port, err := testenv.FreePort()
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// Scrape reads the gateway's own metrics in the Prometheus text format.
func (g *Gateway) Scrape(t testing.TB) string {
	t.Helper()
	text, err := g.ScrapeMetrics()
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// ScrapeMetrics is Scrape for programs other than tests.
func (g *Gateway) ScrapeMetrics() (string, error) {
	resp, err := http.Get("http://" + g.Metrics + "/metrics")
	if err != nil {
		return "", fmt.Errorf("scrape the gateway's metrics: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("scrape the gateway's metrics: %w", err)
	}
	return string(b), nil
}

// MetricSum adds up every series of a metric in the Prometheus text format
// (all label values); false when it has none.
func MetricSum(text, name string) (float64, bool) {
	var sum float64
	found := false
	for line := range strings.SplitSeq(text, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}
