//go:build integration

package e2e

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/capprof/capprof/internal/testenv"
)

// The workload the agents stand in for: test/e2e/testdata/agent-to-gateway.yaml
// puts every record of an agent into one replica of it.
const (
	workloadID   = "k8s e2e/Deployment/capprof-e2e/app"
	agentConfig  = "test/e2e/testdata/agent-to-gateway.yaml"
	gatewayReady = "Everything is ready"
)

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// gatewayRun is one run of the gateway and where it writes.
type gatewayRun struct {
	*collector
	otlp     string // OTLP/gRPC endpoint for the agents
	metrics  string // the Collector's own metrics, Prometheus
	profiles string // OTLP/JSON file of the profile records
	checks   string // OTLP/JSON file of the raw checks forwarded
}

// startGateway runs deploy/base/gateway-config.yaml, as in the cluster but
// on loopback ports, with its profiles in storage, writing profile records
// and raw checks to files. The interval is long: profiles go out at
// shutdown, so each run emits each changed profile exactly once.
func startGateway(t *testing.T, storage string) *gatewayRun {
	t.Helper()
	dir := t.TempDir()
	g := &gatewayRun{otlp: freeAddr(t), profiles: filepath.Join(dir, "profiles.jsonl"), checks: filepath.Join(dir, "checks.jsonl")}
	g.metrics = freeAddr(t)
	_, metricsPort, _ := net.SplitHostPort(g.metrics)
	env := []string{
		"OTLP_GRPC_ENDPOINT=" + g.otlp,
		"OTLP_HTTP_ENDPOINT=" + freeAddr(t),
		"HEALTH_ENDPOINT=" + freeAddr(t),
		"METRICS_HOST=127.0.0.1",
		"METRICS_PORT=" + metricsPort,
		"PROFILE_INTERVAL=1h",
		"PROFILE_STORAGE_DIR=" + storage,
		"PROFILE_EXPORTERS=[file/profiles]",
		"PROFILE_EXPORT_FILE=" + g.profiles,
		"CHECK_EXPORTERS=[file/checks]",
		"CHECK_EXPORT_FILE=" + g.checks,
	}
	g.collector = startCollectorUntil(t, gatewayReady, "deploy/base/gateway-config.yaml", env)
	return g
}

// runReplica runs an agent for node recording cg, makes the workload in cg
// change a file's owner (a granted CAP_CHOWN check), and stops the agent,
// which sends everything to the gateway before it exits.
func runReplica(t *testing.T, g *gatewayRun, node string, cg *testenv.Cgroup) {
	t.Helper()
	agent := startCollector(t, agentConfig, []string{"NODE_NAME=" + node, "GATEWAY_ENDPOINT=" + g.otlp},
		"receivers.capabilities.cgroups.include=["+cg.Rel+"]")
	owned := filepath.Join(t.TempDir(), "owned")
	if err := os.WriteFile(owned, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(owned, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if out, err := cg.Command("chown", "0:0", owned).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	agent.stop(t)
}

// forwardedChecks adds up, per k8s.node.name, the checks (record counts) of
// the workload among the raw records the gateway forwarded, and counts those
// records.
func forwardedChecks(t *testing.T, path string) (perNode map[string]int64, records int) {
	t.Helper()
	perNode = map[string]int64{}
	eachRecord(readLogs(t, path), func(res pcommon.Resource, lr plog.LogRecord) {
		attrs := res.Attributes().AsRaw()
		if lr.EventName() != "linux.capability.check" || attrs["k8s.deployment.name"] != "capprof-e2e" {
			return
		}
		n, _ := lr.Attributes().AsRaw()["linux.capability.count"].(int64)
		if n == 0 {
			n = 1
		}
		perNode[attrs["k8s.node.name"].(string)] += n
		records++
	})
	return perNode, records
}

// workloadProfiles returns the linux.capability.profile records of the
// workload, with their resources.
func workloadProfiles(t *testing.T, path string) (records []plog.LogRecord, resources []pcommon.Resource) {
	t.Helper()
	eachRecord(readLogs(t, path), func(res pcommon.Resource, lr plog.LogRecord) {
		if lr.EventName() != "linux.capability.profile" {
			return
		}
		if id, _ := lr.Attributes().Get("linux.capability.profile.id"); id.Str() == workloadID {
			records = append(records, lr)
			resources = append(resources, res)
		}
	})
	return records, resources
}

// scrape reads the gateway's own metrics in the Prometheus text format.
func (g *gatewayRun) scrape(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + g.metrics + "/metrics")
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

// metricValue returns the value of the first sample of a metric in the
// Prometheus text format, "" when there is none.
func metricValue(text, name string) string {
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			return line[strings.LastIndexByte(line, ' ')+1:]
		}
	}
	return ""
}

func stringList(lr plog.LogRecord, key string) []string {
	v, ok := lr.Attributes().Get(key)
	if !ok || v.Type() != pcommon.ValueTypeSlice {
		return nil
	}
	out := []string{}
	for i := 0; i < v.Slice().Len(); i++ {
		out = append(out, v.Slice().At(i).AsString())
	}
	return out
}

func intValue(lr plog.LogRecord, key string) int64 {
	v, _ := lr.Attributes().Get(key)
	return v.Int()
}

// TestGatewayProfilesAcrossNodes runs the gateway of deploy/ with two node
// agents that stand for two replicas of one Deployment on two nodes, and
// checks that the gateway makes one profile of both, that the profile's
// checks are the checks both nodes sent, and that the profile survives a
// restart of the gateway (file_storage).
func TestGatewayProfilesAcrossNodes(t *testing.T) {
	requireE2E(t)
	storage := filepath.Join(t.TempDir(), "profiles")

	g := startGateway(t, storage)
	runReplica(t, g, "node-a", testenv.NewCgroup(t))
	runReplica(t, g, "node-b", testenv.NewCgroup(t))
	metrics := g.scrape(t)
	g.stop(t)

	sent, records := forwardedChecks(t, g.checks)
	if sent["node-a"] == 0 || sent["node-b"] == 0 {
		t.Fatalf("the gateway did not forward checks of the workload from both nodes: %v\n%s", sent, g.stderr.String())
	}
	profiles, resources := workloadProfiles(t, g.profiles)
	if len(profiles) != 1 {
		t.Fatalf("%d profile records of %s, want exactly 1\n%s", len(profiles), workloadID, g.stderr.String())
	}
	p := profiles[0]
	if got, want := intValue(p, "linux.capability.profile.checks"), sent["node-a"]+sent["node-b"]; got != want {
		t.Errorf("profile checks = %d, want %d (node-a %d + node-b %d)", got, want, sent["node-a"], sent["node-b"])
	}
	if got := stringList(p, "linux.capability.profile.hosts"); !slices.Equal(got, []string{"node-a", "node-b"}) {
		t.Errorf("profile hosts = %v, want both nodes", got)
	}
	if got := stringList(p, "linux.capability.profile.recommended.add"); !slices.Equal(got, []string{"CHOWN"}) {
		t.Errorf("recommended.add = %v, want [CHOWN]", got)
	}
	if got := stringList(p, "linux.capability.profile.recommended.drop"); !slices.Equal(got, []string{"ALL"}) {
		t.Errorf("recommended.drop = %v, want [ALL]", got)
	}
	res := resources[0].Attributes().AsRaw()
	for k, v := range map[string]any{"k8s.namespace.name": "e2e", "k8s.deployment.name": "capprof-e2e", "k8s.container.name": "app"} {
		if res[k] != v {
			t.Errorf("profile resource %s = %v, want %v", k, res[k], v)
		}
	}
	// The connector's own metrics, from the running gateway: one profile,
	// every forwarded check record added.
	if v := metricValue(metrics, "otelcol_connector_capability_profile_profiles"); v != "1" {
		t.Errorf("otelcol_connector_capability_profile_profiles = %q, want 1", v)
	}
	if v, want := metricValue(metrics, "otelcol_connector_capability_profile_records_added"), strconv.Itoa(records); v != want {
		t.Errorf("otelcol_connector_capability_profile_records_added = %q, want %s (the check records forwarded)", v, want)
	}
	t.Logf("profile of %s (checks node-a %d + node-b %d):\n%s", workloadID, sent["node-a"], sent["node-b"], p.Body().Str())
	first := intValue(p, "linux.capability.profile.checks")

	// Restart: the gateway restores the profile from file_storage, and one
	// more replica's checks add to it.
	g = startGateway(t, storage)
	if !strings.Contains(g.stderr.String(), "restored capability profiles from storage") {
		t.Errorf("the restarted gateway did not say it restored profiles:\n%s", g.stderr.String())
	}
	runReplica(t, g, "node-a", testenv.NewCgroup(t))
	g.stop(t)
	more, _ := forwardedChecks(t, g.checks)
	profiles, _ = workloadProfiles(t, g.profiles)
	if len(profiles) != 1 {
		t.Fatalf("after the restart: %d profile records of %s, want exactly 1\n%s", len(profiles), workloadID, g.stderr.String())
	}
	p = profiles[0]
	if got, want := intValue(p, "linux.capability.profile.checks"), first+more["node-a"]; got != want {
		t.Errorf("after the restart: profile checks = %d, want %d (%d before + %d new)", got, want, first, more["node-a"])
	}
	if got := stringList(p, "linux.capability.profile.hosts"); !slices.Equal(got, []string{"node-a", "node-b"}) {
		t.Errorf("after the restart: profile hosts = %v, want both nodes (node-b only from before the restart)", got)
	}
}
