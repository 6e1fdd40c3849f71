//go:build e2e

package k8se2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/testenv"
	"github.com/capprof/capprof/test/collectortest"
)

// The two nodes of the demo. Both are this machine, each kubelet's pods
// under a cgroup root of its own (--cgroup-root), so that each node's agent
// can be given its own node's pods (agentEnv.cgroupRoot). Node A's is the
// private containerd's (testenv.Containerd.NodeRoot), node B's another;
// both are unique per run: other tests on the machine may run containers too.
const (
	nodeA = "capprof-e2e-node"
	nodeB = "capprof-e2e-node-b"
)

// TestStarWarsDemo is docs/kubernetes.md's example end to end: the demo
// overlay on a real API server; two nodes, each with the agent image under
// containerd with the DaemonSet's security context and the agent's own
// service account; the real gateway (deploy/base/gateway-config.yaml); dmesg
// as uid 65534 in the xwing pod; the deathstar Deployment's two replicas,
// one per node, binding port 80; and at the end the gateway's capability
// profiles: one per workload, across nodes, as records and as
// CapabilityProfile objects written through an API server restart; then
// the advice applied and enforced by an admission policy.
func TestStarWarsDemo(t *testing.T) {
	prereq.RequireRoot(t)
	prereq.RequireCommands(t, "make", "go")
	left := checkNoLeftovers(t) // first registered, so it runs after every other cleanup

	objs := render(t, "deploy/overlays/demo")
	r := decodeStrict(t, objs)
	agentImage := r.daemonSet.Spec.Template.Spec.Containers[0].Image
	imageTar := buildAgentImage(t, agentImage)
	nodeBRoot := "/capprof-e2e-node-b-" + testenv.ContainerID()[:8]

	// 1. The control plane, containerd and the gateway, whose raw checks
	// go to a file and to an OTLP backend that the test watches.
	kube := testenv.StartKube(t)
	ctrd := testenv.StartContainerd(t)
	ctrd.ImportImage(imageTar)
	// The API server's certificate is in its private directory's certs/.
	left.dirs = append(left.dirs, ctrd.Dir(), filepath.Dir(filepath.Dir(kube.Config.TLSClientConfig.CAFile)))
	kube.InstallCRDs()
	backend := startSink(t)

	// Every rendered object passes the API server's validation and
	// admission; the namespaces exist first, as kubectl apply orders them.
	ap := newApplier(t, kube.Config)
	kube.CreateNamespace("default")
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			ap.create(t, o)
		}
	}
	for _, o := range objs {
		ap.dryRun(t, o)
	}
	if t.Failed() {
		t.FailNow()
	}
	// The agent's identity and permissions, exactly as deploy/ has them.
	for _, o := range objs {
		switch o.GetKind() {
		case "ServiceAccount", "ClusterRole", "ClusterRoleBinding":
			ap.create(t, o)
		}
	}
	// The gateway writes its profiles as CapabilityProfile objects too, as
	// its own service account (deploy/base/gateway-rbac.yaml).
	gatewayAccount := kube.WriteKubeconfig(kube.ServiceAccountConfig(r.gatewayAccount.Namespace, r.gatewayAccount.Name))
	gateway := collectortest.StartGateway(t, filepath.Join(t.TempDir(), "profiles"),
		"CHECK_EXPORTERS=[file/checks, otlp_grpc/checks]", "CHECK_EXPORT_ENDPOINT="+backend.addr,
		"PROFILE_EXPORTERS=[file/profiles, capability_profile_k8s]", "PROFILE_KUBECONFIG="+gatewayAccount)
	xwing := createPod(t, ap, r.pods["xwing"], nodeA)
	deathstar := createDeathstar(t, ap, r)

	// 2. xwing's container on node A and deathstar's replica on node B, in
	// their pods' cgroups, and the status the kubelets would report.
	xwingCtr := ctrd.RunContainerInPod(string(xwing.UID))
	left.add(xwingCtr)
	kube.SetContainersRunning("default", "xwing", map[string]string{"spaceship": xwingCtr.ID})
	setPodNetwork(t, kube, xwing, "10.244.0.17")
	podB := createPod(t, ap, deathstar.pod("b8k2q"), nodeB)
	ctrB := ctrd.RunContainerInNodePod(nodeBRoot, string(podB.UID))
	left.add(ctrB)
	kube.SetContainersRunning("default", podB.Name, map[string]string{"deathstar": ctrB.ID})

	// 3. An agent per node, authenticated by a token bound to its service
	// account, sending to the gateway.
	token := kube.ServiceAccountConfig(r.serviceAccount.Namespace, r.serviceAccount.Name).BearerToken
	agentA := runAgent(t, ctrd, r.daemonSet, r.agentConfig, agentEnv{
		nodeName: nodeA, podIP: "127.0.0.2", cgroupRoot: ctrd.NodeRoot(), gateway: gateway.OTLP, api: kube.Config, token: token,
	})
	checkAgentPrivileges(t, agentA, r)
	left.pids = append(left.pids, agentA.pid)
	left.cgroups = append(left.cgroups, agentA.cgroup)
	agentB := runAgent(t, ctrd, r.daemonSet, r.agentConfig, agentEnv{
		nodeName: nodeB, podIP: "127.0.0.3", cgroupRoot: nodeBRoot, gateway: gateway.OTLP, api: kube.Config, token: token,
	})
	left.pids = append(left.pids, agentB.pid)
	left.cgroups = append(left.cgroups, agentB.cgroup)

	// 4. dmesg as nobody in xwing: a denied CAP_SYSLOG check, named after
	// the pod, its container and its labels.
	if out, err := ctrd.Exec(xwingCtr, 65534, "dmesg"); err == nil {
		t.Fatalf("dmesg as uid 65534 succeeded:\n%s", out)
	}
	rec := backend.waitFor(0, 60*time.Second, dmesgIn(xwingCtr.ID))
	if rec == nil {
		t.Fatalf("no CAP_SYSLOG record of dmesg in xwing among %d records; agent log:\n%s", backend.count(), agentA.logTail())
	}
	logRecord(t, "xwing", rec)
	want := map[string]any{
		"k8s.namespace.name":  "default",
		"k8s.pod.name":        "xwing",
		"k8s.pod.uid":         string(xwing.UID),
		"k8s.container.name":  "spaceship",
		"k8s.pod.label.class": "xwing",
		"k8s.pod.label.org":   "alliance",
		"container.id":        xwingCtr.ID,
		"host.name":           nodeA,
		// From k8s_attributes, with the same service account.
		"k8s.pod.ip": "10.244.0.17",
	}
	for k, v := range want {
		if rec.resource[k] != v {
			t.Errorf("resource %s = %v, want %v", k, rec.resource[k], v)
		}
	}
	if v := rec.attrs["linux.capability.verdict"]; v != "denied" {
		t.Errorf("linux.capability.verdict = %v, want denied", v)
	}
	// The process is part of the resource, as the semantic conventions
	// count process.* among resource attributes.
	for k, v := range map[string]any{"process.executable.path": "/bin/dmesg", "process.user.id": int64(65534)} {
		if rec.resource[k] != v {
			t.Errorf("resource %s = %v, want %v", k, rec.resource[k], v)
		}
	}
	// Its context, as Tetragon's event has it: the pid in the container,
	// the container's own namespaces, the container's start and image id.
	for _, k := range []string{"process.vpid", "process.login_user.id", "container.start_time", "container.image.id", "linux.namespace.mnt.inode"} {
		if _, ok := rec.resource[k]; !ok {
			t.Errorf("resource has no %s", k)
		}
	}
	for _, kind := range []string{"mnt", "pid", "net", "uts", "ipc"} {
		if v := rec.resource["linux.namespace."+kind+".is_host"]; v != false {
			t.Errorf("resource linux.namespace.%s.is_host = %v, want false in a container", kind, v)
		}
	}
	if rec.event != "linux.capability.check" {
		t.Errorf("event %q", rec.event)
	}
	if _, ok := rec.resource["k8s.pod.start_time"]; !ok {
		t.Error("k8s_attributes added no k8s.pod.start_time")
	}

	// 4b. The deathstar's replica on node B serves port 80 as root: a
	// granted CAP_NET_BIND_SERVICE check, recorded by node B's agent only.
	rec = deathstar.serve(t, ctrd, backend, ctrB, podB, nodeB, agentB)
	if rec.resource["container.id"] != ctrB.ID {
		t.Errorf("deathstar on node B: container.id %v, want %s", rec.resource["container.id"], ctrB.ID)
	}

	// 5a. A container that runs before its pod's status names it: its
	// checks wait for the status and then carry the pod's names.
	tiefighter := createPod(t, ap, r.pods["tiefighter"], nodeA)
	tieCtr := ctrd.RunContainerInPod(string(tiefighter.UID))
	left.add(tieCtr)
	if _, err := ctrd.Exec(tieCtr, 65534, "dmesg"); err == nil {
		t.Fatal("dmesg as uid 65534 succeeded in tiefighter")
	}
	time.Sleep(500 * time.Millisecond)
	kube.SetContainersRunning("default", "tiefighter", map[string]string{"spaceship": tieCtr.ID})
	rec = backend.waitFor(0, 60*time.Second, dmesgIn(tieCtr.ID))
	if rec == nil {
		t.Fatalf("no record of tiefighter's dmesg; agent log:\n%s", agentA.logTail())
	}
	logRecord(t, "tiefighter, status after the check", rec)
	for k, v := range map[string]any{"k8s.pod.name": "tiefighter", "k8s.container.name": "spaceship", "k8s.pod.label.org": "empire"} {
		if rec.resource[k] != v {
			t.Errorf("late-bound tiefighter record: %s = %v, want %v", k, rec.resource[k], v)
		}
	}

	// 5b. The API server goes away: once the agent has noticed, records
	// keep flowing, named from what it already knows.
	const inSync, unreachable = "kubernetes pod metadata in sync", "kubernetes API server unreachable"
	syncs := agentA.logCount(inSync)
	// Until now the service account's ClusterRole was enough for the
	// receiver and k8s_attributes: the API server refused nothing. (Right
	// after a restart it may refuse a watch until its RBAC caches are
	// filled; the agent retries.)
	for _, a := range []*agent{agentA, agentB} {
		if a.logCount("forbidden") > 0 {
			t.Errorf("the API server refused the agent something:\n%s", a.logTail())
		}
	}
	kube.StopAPIServer()
	agentA.waitLog(t, unreachable, 1, 60*time.Second)
	before := backend.count()
	if _, err := ctrd.Exec(xwingCtr, 65534, "dmesg"); err == nil {
		t.Fatal("dmesg succeeded")
	}
	rec = backend.waitFor(before, 60*time.Second, dmesgIn(xwingCtr.ID))
	if rec == nil {
		t.Fatalf("no record while the API server was down; agent log:\n%s", agentA.logTail())
	}
	if rec.resource["k8s.pod.name"] != "xwing" || rec.resource["k8s.pod.label.org"] != "alliance" {
		t.Errorf("record during the outage: k8s.pod.name = %v, org %v", rec.resource["k8s.pod.name"], rec.resource["k8s.pod.label.org"])
	}

	// 5c. It comes back: once the agent is in sync again, pods created
	// since are named too: the deathstar's replica on node A.
	kube.StartAPIServer()
	agentA.waitLog(t, inSync, syncs+1, 90*time.Second)
	podA := createPod(t, ap, deathstar.pod("x7k2p"), nodeA)
	ctrA := ctrd.RunContainerInPod(string(podA.UID))
	left.add(ctrA)
	kube.SetContainersRunning("default", podA.Name, map[string]string{"deathstar": ctrA.ID})
	deathstar.serve(t, ctrd, backend, ctrA, podA, nodeA, agentA)
	for _, a := range []*agent{agentA, agentB} {
		if a.logCount("events lost") > 0 {
			t.Errorf("the agent lost events:\n%s", a.logTail())
		}
	}

	// 6. The profiles: the agents stop as the kubelet stops them, sending
	// what they hold, and then the gateway, which emits every profile that
	// changed at shutdown.
	agentA.stop(t)
	agentB.stop(t)
	gateway.Stop(t)
	records := checkProfiles(t, gateway)
	checkProfileObjects(t, kube, records)

	// 7. The advice enforced: admission policies from the profiles, the
	// deathstar patched, and its rolled-out pod admitted and serving.
	enforceAdvice(t, kube, ap, ctrd, left, deathstar)
}

// dmesgIn matches dmesg's denied CAP_SYSLOG check in container id.
func dmesgIn(id string) func(record) bool {
	return func(r record) bool {
		return r.resource["container.id"] == id && r.attrs["linux.capability.name"] == "CAP_SYSLOG" &&
			r.resource["process.executable.path"] == "/bin/dmesg"
	}
}

// logRecord shows a record in the test log (the README quotes it).
func logRecord(t *testing.T, what string, r *record) {
	res, _ := json.MarshalIndent(r.resource, "  ", "  ")
	attrs, _ := json.MarshalIndent(r.attrs, "  ", "  ")
	t.Logf("%s: event %s\n  resource %s\n  attributes %s", what, r.event, res, attrs)
}

// createPod creates the pod bound to node, as the scheduler would.
func createPod(t *testing.T, ap *applier, pod *corev1.Pod, node string) *corev1.Pod {
	t.Helper()
	if pod == nil {
		t.Fatal("the overlay lacks a pod")
	}
	pod = pod.DeepCopy()
	pod.Spec.NodeName = node
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(pod)
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{Object: u}
	obj.SetAPIVersion("v1")
	obj.SetKind("Pod")
	var created corev1.Pod
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(ap.create(t, obj).Object, &created); err != nil {
		t.Fatal(err)
	}
	return &created
}

// setPodNetwork sets the pod's IP and start time, as the kubelet reports
// them.
func setPodNetwork(t *testing.T, kube *testenv.Kube, pod *corev1.Pod, ip string) {
	t.Helper()
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{
		"podIP": ip, "podIPs": []any{map[string]any{"ip": ip}}, "startTime": time.Now().UTC().Format(time.RFC3339),
	}})
	_, err := kube.Client.CoreV1().Pods(pod.Namespace).Patch(context.Background(), pod.Name, types.MergePatchType, patch,
		metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatalf("patch status of %s: %v", pod.Name, err)
	}
}

// checkAgentPrivileges compares what the agent process runs with to the
// DaemonSet: exactly the added capabilities, no_new_privs, seccomp.
func checkAgentPrivileges(t *testing.T, a *agent, r rendered) {
	t.Helper()
	st := a.status(t)
	var want caps.Set
	for _, c := range r.daemonSet.Spec.Template.Spec.Containers[0].SecurityContext.Capabilities.Add {
		set, err := caps.ParseSet(string(c))
		if err != nil {
			t.Fatal(err)
		}
		want |= set
	}
	n, err := strconv.ParseUint(st["CapEff"], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	eff := caps.Set(n)
	if eff != want {
		t.Errorf("agent CapEff %s, want %s", eff, want)
	}
	if st["NoNewPrivs"] != "1" || st["Seccomp"] != "2" || st["Uid"] != "0\t0\t0\t0" {
		t.Errorf("agent NoNewPrivs %q Seccomp %q Uid %q", st["NoNewPrivs"], st["Seccomp"], st["Uid"])
	}
	t.Logf("agent pid %d: CapEff %s (%s), NoNewPrivs 1, Seccomp filter", a.pid, st["CapEff"], eff)
}

// leftovers is what the test started, found again after every cleanup
// has run: processes and mounts naming a private directory, cgroups, PIDs.
type leftovers struct {
	dirs    []string // containerd's and the control plane's private directories
	cgroups []string // container cgroups, relative to a hierarchy's root
	pids    []int
}

// checkNoLeftovers registers a cleanup that fails the test if anything it
// started outlives it. Registered first, it runs after every other
// cleanup. Other tests on the machine may run their own containerd or API
// server; only this test's directories, cgroups and PIDs count.
func checkNoLeftovers(t *testing.T) *leftovers {
	l := &leftovers{}
	t.Cleanup(func() {
		for _, cg := range l.cgroups {
			for _, p := range []string{cg, filepath.Dir(cg)} {
				left, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", p))
				if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", p)); err == nil {
					left = append(left, filepath.Join("/sys/fs/cgroup", p))
				}
				if len(left) > 0 {
					t.Errorf("cgroups left behind: %v", left)
				}
			}
		}
		mounts, _ := os.ReadFile("/proc/self/mountinfo")
		for _, line := range strings.Split(string(mounts), "\n") {
			for _, d := range l.dirs {
				if strings.Contains(line, d) {
					t.Errorf("mount left behind: %s", line)
				}
			}
		}
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			cmdline, _ := os.ReadFile(p)
			for _, d := range l.dirs {
				if strings.Contains(string(cmdline), d) {
					t.Errorf("process left behind: %s %q", filepath.Dir(p), strings.ReplaceAll(string(cmdline), "\x00", " "))
				}
			}
		}
		for _, pid := range l.pids {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
				t.Errorf("process %d left behind", pid)
			}
		}
		for _, d := range l.dirs {
			if _, err := os.Stat(d); err == nil {
				t.Errorf("directory left behind: %s", d)
			}
		}
		if !t.Failed() {
			t.Logf("nothing left behind: %d cgroups, %d processes, the directories %v", len(l.cgroups), len(l.pids), l.dirs)
		}
	})
	return l
}

// add notes containers to look for at the end.
func (l *leftovers) add(cs ...testenv.Container) {
	for _, c := range cs {
		l.cgroups = append(l.cgroups, c.Cgroup)
		l.pids = append(l.pids, c.PID)
	}
}
