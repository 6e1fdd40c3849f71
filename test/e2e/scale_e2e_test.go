//go:build integration && e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/capprof/capprof/internal/kube"
	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/profile"
	"github.com/capprof/capprof/internal/testenv"
	"github.com/capprof/capprof/test/collectortest"
)

// scaleWorkloads is how many StatefulSets run a pod on each node: enough
// that three replicas all get some (a workload lands on a given replica
// with probability 1/3, so all twelve miss one with (2/3)^12 < 1%, and all
// land on one replica with 3^-11).
const scaleWorkloads = 12

// endpointSliceRule is what the k8s resolver of the agents' loadbalancing
// exporter needs beside the agent's own rules (deploy/base/rbac.yaml's Role
// capprof-agent-endpoints).
var endpointSliceRule = rbacv1.PolicyRule{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}}

// startScaleAgent runs deploy/base/agent-config.yaml for node: the
// capabilities receiver naming pods from the real API server, k8s_attributes,
// and the loadbalancing exporter resolving the gateway replicas from the
// headless Service's EndpointSlices with the agent's client certificate.
// What differs from the DaemonSet: the API server is reached with a
// kubeconfig of the agent's service account (no in-cluster token here), the
// node's pods are its own cgroup tree of this machine, and a file exporter
// beside loadbalancing records every check the agent sent, the oracle of
// the profiles' counts.
func startScaleAgent(t *testing.T, node, ip, kubeconfig, tlsDir string, g *gatewayReplicas, w *workloadPods) (*collectortest.Collector, string) {
	t.Helper()
	sent := filepath.Join(t.TempDir(), node+"-sent.jsonl")
	env := []string{"NODE_NAME=" + node, "POD_IP=" + ip, "KUBECONFIG=" + kubeconfig,
		"CAPPROF_GATEWAY_PORT=" + strconv.Itoa(g.port), "CAPPROF_TLS_DIR=" + tlsDir}
	a := collectortest.StartConfigs(t, collectortest.ReceiverReady, []string{agentConfigFile}, env,
		"receivers.capabilities.kubernetes.auth_type=kubeConfig",
		"receivers.capabilities.kubernetes.kubeconfig="+kubeconfig,
		"processors.k8s_attributes.auth_type=kubeConfig",
		"receivers.capabilities.cgroups.include=["+w.nodeTree(node)+"]",
		"receivers.capabilities.flush_interval=1s",
		"service.telemetry.metrics.level=none",
		"exporters.file/sent.path="+sent,
		"service.pipelines.logs.exporters=[load_balancing, file/sent]")
	return a, sent
}

// mergedProfiles runs `capprof profile --format json` over the profile
// records of every replica's every incarnation: each writer's latest
// partial profile, added up.
func mergedProfiles(t *testing.T, files []string) map[string]profile.Profile {
	t.Helper()
	cmd := exec.Command(collectortest.Binary(t, "./cmd/capprof"), append([]string{"profile", "--format", "json"}, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("capprof profile: %v\n%s", err, stderr.String())
	}
	var ps []profile.Profile
	if err := json.Unmarshal(out, &ps); err != nil {
		t.Fatalf("capprof profile: %v\n%s", err, out)
	}
	m := map[string]profile.Profile{}
	for _, p := range ps {
		if _, dup := m[p.ID]; dup {
			t.Errorf("two merged profiles of %s", p.ID)
		}
		m[p.ID] = p
	}
	return m
}

// writersByKey lists, per profile key, the writers of its profile records.
func writersByKey(t *testing.T, files []string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, f := range files {
		collectortest.EachRecord(readComplete(t, f), func(_ pcommon.Resource, lr plog.LogRecord) {
			id, _ := lr.Attributes().Get("linux.capability.profile.id")
			w, _ := lr.Attributes().Get(profile.AttrProfileWriter)
			if !slices.Contains(out[id.Str()], w.Str()) {
				out[id.Str()] = append(out[id.Str()], w.Str())
			}
		})
	}
	return out
}

// TestGatewayReplicasScale runs deploy/'s topology on one machine: three
// gateway replicas (real otelcol-capprof processes of deploy/base's gateway
// config with mutual TLS) behind the headless Service, resolved by the
// agents' loadbalancing exporter with the k8s resolver from the Service's
// EndpointSlice on a real kube-apiserver, and two agents (deploy/base's
// agent config, real BPF) recording twelve StatefulSets with a pod on each
// node, and a container whose pod the API server does not know. While
// checks keep coming, the replica set goes 3 → 2 (replica 2 stops for
// good), 2 → 3 (it comes back with its volume) and replica 0 restarts. In
// the end every workload has exactly one profile whose checks are exactly
// the checks the agents sent: none lost with a replica, none counted twice.
//
// Each replica stands for a pod with its own IP (podNetwork, one port),
// so the k8s resolver runs as in a cluster, by IP; the agents check the
// replicas' certificate against the Service's name (server_name_override),
// as deploy/ does.
func TestGatewayReplicasScale(t *testing.T) {
	requireE2E(t)
	prereq.RequireCommands(t, "unshare")
	k := testenv.StartKube(t)
	ip := podNetwork(t, 5)
	ca := newTestCA(t, "capprof-ca")
	gwTLS := ca.issue(t, "capprof-gateway", gatewayTLSName, ca)
	agentTLS := ca.issue(t, "capprof-agent", "", ca)
	kubeconfig := k.AgentKubeconfig(append(kube.PolicyRules(), endpointSliceRule))

	g := newGatewayReplicas(t, ip, 3, gwTLS)
	g.serve(k)
	for i := range 3 {
		g.start(i)
	}
	g.publish(0, 1, 2)

	w := newWorkloadPods(t, k, "e2e-scale")
	for i := range scaleWorkloads {
		for _, node := range []string{"node-a", "node-b"} {
			w.addStatefulSetPod(t, "wl-"+strconv.Itoa(i), node)
		}
	}
	orphan := w.addOrphan(t, "node-a")

	agentA, sentA := startScaleAgent(t, "node-a", ip+"4", kubeconfig, agentTLS, g, w)
	agentB, sentB := startScaleAgent(t, "node-b", ip+"5", kubeconfig, agentTLS, g, w)

	// 1. Three replicas: every workload's checks at one replica, and more
	// than one replica with some.
	w.round(t)
	want := w.keySet()
	arrived := func() bool {
		sent := checksByKey(t, sentA, sentB)
		got := checksByKey(t, g.files("checks")...)
		return len(sent) == len(want) && maps.Equal(sent, got)
	}
	waitFor(t, 60*time.Second, arrived, func() string {
		return "the replicas did not forward every check the agents sent: sent " + fmtCounts(checksByKey(t, sentA, sentB)) +
			"\nforwarded " + fmtCounts(checksByKey(t, g.files("checks")...)) + "\n" + agentA.Output.String()
	})
	holders := map[string][]int{} // key -> replicas that received its checks
	for i := range 3 {
		for key := range checksByKey(t, g.replicaFile(i, 1, "checks")) {
			holders[key] = append(holders[key], i)
		}
	}
	busy := map[int]bool{}
	for key, rs := range holders {
		if len(rs) != 1 {
			t.Errorf("%s: checks at replicas %v, want one", key, rs)
		}
		busy[rs[0]] = true
	}
	if len(busy) < 2 {
		t.Errorf("replicas %v hold every workload, want more than one: %v", slices.Collect(maps.Keys(busy)), holders)
	}
	t.Logf("three replicas: workloads per replica %v", holders)

	// 2. While checks keep coming: 3 → 2, 2 → 3, and a restart.
	var ofReplica2 []string
	for key, rs := range holders {
		if rs[0] == 2 {
			ofReplica2 = append(ofReplica2, key)
		}
	}
	stop := w.keepChecking(t)
	g.stop(2) // the pod terminates, then leaves the EndpointSlice
	// As in a cluster, the stopped replica stays listed for a while (its
	// pod's grace period): the agents send it checks, which fail and wait
	// for their retry, until it is taken out.
	if len(ofReplica2) > 0 {
		waitFor(t, 60*time.Second, func() bool {
			sent, got := checksByKey(t, sentA, sentB), checksByKey(t, g.files("checks")...)
			return slices.ContainsFunc(ofReplica2, func(k string) bool { return sent[k] > got[k] })
		}, func() string { return fmt.Sprintf("no check of %v waited for the stopped replica 2", ofReplica2) })
	}
	g.publish(0, 1)
	// Replica 2's workloads move to the others.
	moved := func(keys []string, files ...string) func() bool {
		return func() bool {
			got := checksByKey(t, files...)
			return slices.ContainsFunc(keys, func(k string) bool { return got[k] > 0 })
		}
	}
	if len(ofReplica2) > 0 {
		waitFor(t, 60*time.Second, moved(ofReplica2, g.replicaFile(0, 1, "checks"), g.replicaFile(1, 1, "checks")),
			func() string {
				return fmt.Sprintf("no check of replica 2's workloads %v reached replica 0 or 1", ofReplica2)
			})
	}
	g.start(2) // scaled back: the same pod name and volume
	g.publish(0, 1, 2)
	if len(ofReplica2) > 0 {
		waitFor(t, 60*time.Second, moved(ofReplica2, g.replicaFile(2, 2, "checks")),
			func() string { return fmt.Sprintf("no check of %v came back to replica 2", ofReplica2) })
	}
	g.stop(0) // a container restart: the pod keeps its IP and its place
	g.start(0)
	w.round(t)
	rounds := stop()
	// Every check the agents sent reaches a replica, retried if it met one
	// stopped: then the agents stop (a stopping agent drops what it still
	// retries: deploy/README.md).
	waitFor(t, 2*time.Minute, arrived, func() string {
		return "the replicas did not receive every check the agents sent: sent " + fmtCounts(checksByKey(t, sentA, sentB)) +
			"\nreceived " + fmtCounts(checksByKey(t, g.files("checks")...))
	})
	for _, i := range []int{0, 2} {
		if out := g.running[i].Output.String(); !strings.Contains(out, "restored capability profiles from storage") {
			t.Errorf("replica %d did not restore its profiles:\n%s", i, out)
		}
	}

	// 3. The agents send what they hold and stop; then the replicas, which
	// emit their last partial profiles.
	agentA.Stop(t)
	agentB.Stop(t)
	for i := range 3 {
		g.stop(i)
	}
	sent := checksByKey(t, sentA, sentB)
	if !maps.Equal(keysOf(sent), want) {
		t.Fatalf("the agents sent checks of %v, want %v", slices.Sorted(maps.Keys(sent)), slices.Sorted(maps.Keys(want)))
	}
	received := checksByKey(t, g.files("checks")...)
	profiles := mergedProfiles(t, g.files("profiles"))
	writers := writersByKey(t, g.files("profiles"))
	split := 0
	for key := range want {
		p, ok := profiles[key]
		if !ok {
			t.Errorf("%s: no profile", key)
			continue
		}
		if int64(p.Checks) != sent[key] {
			t.Errorf("%s: profile of %d checks from writers %v, the agents sent %d; the replicas received %d",
				key, p.Checks, writers[key], sent[key], received[key])
		}
		if len(writers[key]) > 1 {
			split++
		}
	}
	for key := range profiles {
		if !want[key] {
			t.Errorf("a profile of %s, which is no workload of the test", key)
		}
	}
	if _, ok := profiles[orphan]; !ok {
		t.Errorf("no profile of the container without pod metadata, %s", orphan)
	}
	if t.Failed() {
		for _, a := range []*collectortest.Collector{agentA, agentB} {
			for line := range strings.SplitSeq(a.Output.String(), "\n") {
				if strings.Contains(line, "\twarn\t") || strings.Contains(line, "\terror\t") {
					t.Log(line)
				}
			}
		}
	}
	t.Logf("%d rounds of checks during the changes; %d of %d workloads have partial profiles of more than one replica; writers %v",
		rounds, split, len(want), writers)
}

func keysOf(m map[string]int64) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

func fmtCounts(m map[string]int64) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b.WriteString(k + "=" + strconv.FormatInt(m[k], 10) + " ")
	}
	return b.String()
}
