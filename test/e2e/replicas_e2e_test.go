//go:build integration && e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/profile"
	"github.com/capprof/capprof/internal/testenv"
	"github.com/capprof/capprof/test/collectortest"
)

// The deployed configs the replicas and agents run, and where deploy/base
// puts the gateways.
const (
	gatewayTLSConfig = "deploy/base/gateway-tls.yaml"
	agentConfigFile  = "deploy/base/agent-config.yaml"
	gatewayService   = "deploy/base/gateway-service.yaml"
	gatewayNamespace = "capprof"
	gatewayTLSName   = "capprof-gateway.capprof.svc"
)

// podNetwork gives this machine addresses that stand for pod IPs, prefix
// + "1" to prefix + n, and returns prefix. The gateway replicas share one
// port on three of them, as pods share a containerPort on their own IPs.
// They are /32s of 198.18.0.0/15 (reserved for benchmarks, never routed) on
// the loopback device, removed at cleanup: an EndpointSlice refuses
// 127.0.0.0/8 addresses, and this kernel has no dummy interfaces.
func podNetwork(t *testing.T, n int) string {
	t.Helper()
	prereq.RequireCommands(t, "ip")
	var b [2]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("198.%d.%d.", 18+b[0]%2, b[1])
	for i := 1; i <= n; i++ {
		addr := prefix + strconv.Itoa(i) + "/32"
		if out, err := exec.Command("ip", "addr", "add", addr, "dev", "lo").CombinedOutput(); err != nil {
			t.Fatalf("ip addr add %s dev lo: %v\n%s", addr, err, out)
		}
		t.Cleanup(func() { _ = exec.Command("ip", "addr", "del", addr, "dev", "lo").Run() })
	}
	return prefix
}

// freeAddr is a free loopback address on ip.
func freeAddr(t *testing.T, ip string) string {
	return net.JoinHostPort(ip, strconv.Itoa(testenv.FreePortFor(t, ip)))
}

// gatewayReplicas runs the gateway StatefulSet's replicas as processes:
// replica i listens on its own address at one shared port, keeps its
// profiles in its own storage directory across restarts (its volume), is
// named capprof-gateway-i (its pod name, the connector's writer), and runs
// deploy/base's gateway config with the TLS config merged over it. The
// headless Service's EndpointSlice on the API server lists the replicas
// that are published, as the EndpointSlice controller would list the
// StatefulSet's pods.
type gatewayReplicas struct {
	t       *testing.T
	kube    *testenv.Kube
	dir     string
	tlsDir  string
	ips     []string
	port    int
	running []*collectortest.Collector
	starts  []int // incarnations so far, per replica
}

func newGatewayReplicas(t *testing.T, prefix string, n int, tlsDir string) *gatewayReplicas {
	t.Helper()
	g := &gatewayReplicas{t: t, dir: t.TempDir(), tlsDir: tlsDir,
		running: make([]*collectortest.Collector, n), starts: make([]int, n)}
	for i := range n {
		g.ips = append(g.ips, prefix+strconv.Itoa(i+1))
	}
	g.port = testenv.FreePortFor(t, g.ips...)
	return g
}

// serve creates the gateway Service, as deployed, on kube, whose
// EndpointSlice publish then writes.
func (g *gatewayReplicas) serve(kube *testenv.Kube) {
	g.t.Helper()
	g.kube = kube
	kube.CreateNamespace(gatewayNamespace)
	data, err := os.ReadFile(filepath.Join(collectortest.Repo(), gatewayService))
	if err != nil {
		g.t.Fatal(err)
	}
	var svc corev1.Service
	if err := yaml.UnmarshalStrict(data, &svc); err != nil {
		g.t.Fatalf("%s: %v", gatewayService, err)
	}
	if _, err := kube.Client.CoreV1().Services(gatewayNamespace).Create(context.Background(), &svc, metav1.CreateOptions{}); err != nil {
		g.t.Fatalf("create the gateway Service: %v", err)
	}
}

// addr is replica i's OTLP/gRPC address.
func (g *gatewayReplicas) addr(i int) string { return net.JoinHostPort(g.ips[i], strconv.Itoa(g.port)) }

func (g *gatewayReplicas) name(i int) string { return "capprof-gateway-" + strconv.Itoa(i) }

// replicaFile is a file of replica i's n-th incarnation.
func (g *gatewayReplicas) replicaFile(i, n int, kind string) string {
	return filepath.Join(g.dir, fmt.Sprintf("%s-%d.%s.jsonl", g.name(i), n, kind))
}

// start starts replica i (again): with its storage, so that it restores
// what it held. Profiles go out every second.
func (g *gatewayReplicas) start(i int) {
	g.t.Helper()
	g.starts[i]++
	n, ip := g.starts[i], g.ips[i]
	metrics := freeAddr(g.t, ip)
	host, port, _ := net.SplitHostPort(metrics)
	env := []string{
		"OTLP_GRPC_ENDPOINT=" + g.addr(i),
		"OTLP_HTTP_ENDPOINT=" + freeAddr(g.t, ip),
		"HEALTH_ENDPOINT=" + freeAddr(g.t, ip),
		"METRICS_HOST=" + host, "METRICS_PORT=" + port,
		"PROFILE_INTERVAL=1s",
		"PROFILE_STORAGE_DIR=" + filepath.Join(g.dir, g.name(i)+"-storage"),
		"PROFILE_EXPORTERS=[file/profiles]",
		"PROFILE_EXPORT_FILE=" + g.replicaFile(i, n, "profiles"),
		"CHECK_EXPORTERS=[file/checks]",
		"CHECK_EXPORT_FILE=" + g.replicaFile(i, n, "checks"),
		"TLS_DIR=" + g.tlsDir,
	}
	g.running[i] = collectortest.StartConfigs(g.t, collectortest.CollectorReady,
		[]string{collectortest.GatewayConfig, gatewayTLSConfig}, env,
		"connectors.capability_profile.writer="+g.name(i))
}

// stop stops replica i with SIGTERM: it emits and persists its profiles.
func (g *gatewayReplicas) stop(i int) {
	g.t.Helper()
	g.running[i].Stop(g.t)
	g.running[i] = nil
}

// publish writes the EndpointSlice of the Service with the replicas given,
// ready, on the shared port.
func (g *gatewayReplicas) publish(replicas ...int) {
	g.t.Helper()
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "capprof-gateway-e2e", Namespace: gatewayNamespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: "capprof-gateway"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: new("otlp-grpc"), Port: new(int32(g.port)), Protocol: new(corev1.ProtocolTCP)}},
	}
	for _, i := range replicas {
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{g.ips[i]}, Hostname: new(g.name(i)),
			Conditions: discoveryv1.EndpointConditions{Ready: new(true)},
		})
	}
	slices := g.kube.Client.DiscoveryV1().EndpointSlices(gatewayNamespace)
	ctx := context.Background()
	cur, err := slices.Get(ctx, slice.Name, metav1.GetOptions{})
	if err == nil {
		slice.ResourceVersion = cur.ResourceVersion
		_, err = slices.Update(ctx, slice, metav1.UpdateOptions{})
	} else {
		_, err = slices.Create(ctx, slice, metav1.CreateOptions{})
	}
	if err != nil {
		g.t.Fatalf("write the EndpointSlice of replicas %v: %v", replicas, err)
	}
}

// files returns every incarnation's files of a kind, of every replica.
func (g *gatewayReplicas) files(kind string) []string {
	var out []string
	for i, n := range g.starts {
		for k := 1; k <= n; k++ {
			out = append(out, g.replicaFile(i, k, kind))
		}
	}
	return out
}

// readComplete reads the complete OTLP/JSON lines of a file that a
// collector may be writing; a missing file has none.
func readComplete(t *testing.T, path string) []plog.Logs {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []plog.Logs
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			break // being written
		}
		line := data[:nl]
		data = data[nl+1:]
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		logs, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(line)
		if err != nil {
			t.Fatalf("%s: not OTLP/JSON: %v", path, err)
		}
		out = append(out, logs)
	}
	return out
}

// checksByKey adds up the checks (linux.capability.count, 1 when absent)
// of the check records in files, per profile key (the resource's
// linux.capability.profile.key).
func checksByKey(t *testing.T, files ...string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, f := range files {
		collectortest.EachRecord(readComplete(t, f), func(res pcommon.Resource, lr plog.LogRecord) {
			if lr.EventName() != "linux.capability.check" {
				return
			}
			key, _ := res.Attributes().Get(profile.AttrKey)
			n := int64(1)
			if v, ok := lr.Attributes().Get("linux.capability.count"); ok && v.Int() > 0 {
				n = v.Int()
			}
			out[key.Str()] += n
		})
	}
	return out
}

// waitFor polls cond every 100 ms until it holds or timeout passes, then
// fails with what describe says.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, describe())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// workloadPods are the pods of the test's workloads on the API server and
// their containers' cgroups under each node's kubelet tree, where the test
// makes capability checks.
type workloadPods struct {
	kube  *testenv.Kube
	ns    string
	root  *testenv.Cgroup
	cgs   map[string][]*testenv.Cgroup // node -> container cgroups
	keys  map[*testenv.Cgroup]string   // container cgroup -> its profile key
	owned string                       // a file the checks chown
	mu    sync.Mutex
}

func newWorkloadPods(t *testing.T, kube *testenv.Kube, ns string) *workloadPods {
	t.Helper()
	kube.CreateNamespace(ns)
	owned := filepath.Join(t.TempDir(), "owned")
	if err := os.WriteFile(owned, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return &workloadPods{kube: kube, ns: ns, root: testenv.NewCgroup(t), cgs: map[string][]*testenv.Cgroup{},
		keys: map[*testenv.Cgroup]string{}, owned: owned}
}

// nodeTree is the cgroup below which node's kubelet puts its pods, for the
// agent's cgroups.include: two nodes share this machine's kernel.
func (w *workloadPods) nodeTree(node string) string { return w.root.Rel + "/" + node + "/kubepods" }

// containerCgroup makes the cgroup of a pod's container as the kubelet's
// cgroupfs driver would: <node>/kubepods/besteffort/pod<uid>/<container id>.
func (w *workloadPods) containerCgroup(t *testing.T, node, podUID, containerID, key string) {
	t.Helper()
	cg := w.root
	for _, name := range []string{node, "kubepods", "besteffort", "pod" + podUID, containerID} {
		cg = cg.Child(t, name)
		if err := os.Mkdir(cg.Path, 0o755); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
	}
	w.cgs[node] = append(w.cgs[node], cg)
	w.keys[cg] = key
}

// addStatefulSetPod creates pod <workload>-<node> of StatefulSet workload
// on node, running container app, and its cgroup.
func (w *workloadPods) addStatefulSetPod(t *testing.T, workload, node string) {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: workload + "-" + node, Namespace: w.ns,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: workload,
				UID: types.UID(testenv.PodUID()), Controller: new(true)}}},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "docker.io/library/busybox:1.36"}}},
	}
	created, err := w.kube.Client.CoreV1().Pods(w.ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
	id := testenv.ContainerID()
	w.kube.SetContainersRunning(w.ns, pod.Name, map[string]string{"app": id})
	w.containerCgroup(t, node, string(created.UID), id, "k8s "+w.ns+"/StatefulSet/"+workload+"/app")
}

// addOrphan makes the cgroup of a container on node whose pod the API
// server does not know: its checks go out by container id.
func (w *workloadPods) addOrphan(t *testing.T, node string) string {
	t.Helper()
	id := testenv.ContainerID()
	w.containerCgroup(t, node, testenv.PodUID(), id, "container "+id)
	return "container " + id
}

// round makes a granted CAP_CHOWN check (or a few) in every container of
// every node: the file is given away, then taken back inside, in a mount
// namespace of its own as a container's process would be (the agent
// leaves the host's mount namespace to the node: include_host: false).
func (w *workloadPods) round(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, cgs := range w.cgs {
		for _, cg := range cgs {
			if err := os.Chown(w.owned, 65534, 65534); err != nil {
				t.Error(err)
				return
			}
			if out, err := cg.Command("unshare", "--mount", "chown", "0:0", w.owned).CombinedOutput(); err != nil {
				t.Errorf("chown in %s: %v\n%s", cg.Rel, err, out)
				return
			}
		}
	}
}

// keySet is every profile key of the workloads' containers.
func (w *workloadPods) keySet() map[string]bool {
	out := map[string]bool{}
	for _, k := range w.keys {
		out[k] = true
	}
	return out
}

// keepChecking makes rounds until stop is closed, and returns how many it
// made once it has stopped.
func (w *workloadPods) keepChecking(t *testing.T) (stop func() int) {
	done, finished := make(chan struct{}), make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-done:
				finished <- n
				return
			default:
			}
			w.round(t)
			n++
		}
	}()
	return func() int { close(done); return <-finished }
}
