//go:build integration

package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/capprof/capprof/internal/testenv"
	"github.com/capprof/capprof/test/collectortest"
)

// The workload the agents stand in for: test/e2e/testdata/agent-to-gateway.yaml
// puts every record of an agent into one replica of it.
const (
	workloadID  = "k8s e2e/Deployment/capprof-e2e/app"
	agentConfig = "test/e2e/testdata/agent-to-gateway.yaml"
)

// runReplica runs an agent for node recording cg, makes the workload in cg
// change a file's owner (a granted CAP_CHOWN check), and stops the agent,
// which sends everything to the gateway before it exits.
func runReplica(t *testing.T, g *collectortest.Gateway, node string, cg *testenv.Cgroup) {
	t.Helper()
	agent := startCollector(t, agentConfig, []string{"NODE_NAME=" + node, "GATEWAY_ENDPOINT=" + g.OTLP},
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
	agent.Stop(t)
}

// forwardedChecks adds up, per k8s.node.name, the checks (record counts) of
// the workload among the raw records the gateway forwarded, and counts those
// records.
func forwardedChecks(t *testing.T, path string) (perNode map[string]int64, records int) {
	t.Helper()
	perNode = map[string]int64{}
	collectortest.EachRecord(collectortest.ReadLogs(t, path), func(res pcommon.Resource, lr plog.LogRecord) {
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
	collectortest.EachRecord(collectortest.ReadLogs(t, path), func(res pcommon.Resource, lr plog.LogRecord) {
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

// TestGatewayProfilesAcrossNodes runs the gateway of deploy/ with two node
// agents that stand for two replicas of one Deployment on two nodes, and
// checks that the gateway makes one profile of both, that the profile's
// checks are the checks both nodes sent, and that the profile survives a
// restart of the gateway (file_storage).
func TestGatewayProfilesAcrossNodes(t *testing.T) {
	requireE2E(t)
	storage := filepath.Join(t.TempDir(), "profiles")

	g := collectortest.StartGateway(t, storage)
	runReplica(t, g, "node-a", testenv.NewCgroup(t))
	runReplica(t, g, "node-b", testenv.NewCgroup(t))
	metrics := g.Scrape(t)
	g.Stop(t)

	sent, records := forwardedChecks(t, g.Checks)
	if sent["node-a"] == 0 || sent["node-b"] == 0 {
		t.Fatalf("the gateway did not forward checks of the workload from both nodes: %v\n%s", sent, g.Output.String())
	}
	profiles, resources := workloadProfiles(t, g.Profiles)
	if len(profiles) != 1 {
		t.Fatalf("%d profile records of %s, want exactly 1\n%s", len(profiles), workloadID, g.Output.String())
	}
	p := profiles[0]
	if got, want := collectortest.IntValue(p, "linux.capability.profile.checks"), sent["node-a"]+sent["node-b"]; got != want {
		t.Errorf("profile checks = %d, want %d (node-a %d + node-b %d)", got, want, sent["node-a"], sent["node-b"])
	}
	if got := collectortest.StringList(p, "linux.capability.profile.hosts"); !slices.Equal(got, []string{"node-a", "node-b"}) {
		t.Errorf("profile hosts = %v, want both nodes", got)
	}
	if got := collectortest.StringList(p, "linux.capability.profile.recommended.add"); !slices.Equal(got, []string{"CHOWN"}) {
		t.Errorf("recommended.add = %v, want [CHOWN]", got)
	}
	if got := collectortest.StringList(p, "linux.capability.profile.recommended.drop"); !slices.Equal(got, []string{"ALL"}) {
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
	first := collectortest.IntValue(p, "linux.capability.profile.checks")

	// Restart: the gateway restores the profile from file_storage, and one
	// more replica's checks add to it.
	g = collectortest.StartGateway(t, storage)
	if !strings.Contains(g.Output.String(), "restored capability profiles from storage") {
		t.Errorf("the restarted gateway did not say it restored profiles:\n%s", g.Output.String())
	}
	runReplica(t, g, "node-a", testenv.NewCgroup(t))
	g.Stop(t)
	more, _ := forwardedChecks(t, g.Checks)
	profiles, _ = workloadProfiles(t, g.Profiles)
	if len(profiles) != 1 {
		t.Fatalf("after the restart: %d profile records of %s, want exactly 1\n%s", len(profiles), workloadID, g.Output.String())
	}
	p = profiles[0]
	if got, want := collectortest.IntValue(p, "linux.capability.profile.checks"), first+more["node-a"]; got != want {
		t.Errorf("after the restart: profile checks = %d, want %d (%d before + %d new)", got, want, first, more["node-a"])
	}
	if got := collectortest.StringList(p, "linux.capability.profile.hosts"); !slices.Equal(got, []string{"node-a", "node-b"}) {
		t.Errorf("after the restart: profile hosts = %v, want both nodes (node-b only from before the restart)", got)
	}
}
