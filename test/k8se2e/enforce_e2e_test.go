//go:build e2e

package k8se2e

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/testenv"
	"github.com/capprof/capprof/test/collectortest"
)

// rolledOutHash is the pod-template-hash of the deathstar's ReplicaSet
// after capprof apply patched its template.
const rolledOutHash = "7c9d5f8b6"

// enforceAdvice closes the loop on the deathstar's CapabilityProfile:
// `capprof apply --format vap` writes the admission policy, `capprof apply
// --yes` patches the Deployment, and the pod it rolls out is admitted by
// that policy while a pod of the old template is refused; the rolled-out
// pod's container, run under containerd with exactly the securityContext
// it was given, holds only NET_BIND_SERVICE and still binds port 80, which
// a container without it cannot.
func enforceAdvice(t *testing.T, kube *testenv.Kube, ap *applier, ctrd *testenv.Containerd, left *leftovers, d *deathstarDeployment) {
	t.Helper()
	ctx := context.Background()
	capprof := collectortest.Binary(t, "./cmd/capprof")
	kubeconfig := kube.WriteKubeconfig(kube.Config)
	apply := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(capprof, append([]string{"apply", "--kubeconfig", kubeconfig, "--namespace", "default"}, args...)...)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("capprof apply %v: %v\n%s", args, err, out)
		}
		t.Logf("capprof apply %s:\n%s", strings.Join(args, " "), out)
		return out
	}

	// 1. The admission policies, one per workload container, as written.
	policies := decodeObjects(t, "capprof apply --format vap", apply("--format", "vap"))
	if len(policies) == 0 {
		t.Fatal("capprof apply --format vap printed no policy")
	}
	for _, o := range policies {
		ap.create(t, o)
	}

	// 2. A pod of the Deployment's current template (no drop ALL) is now
	// refused, naming the profile; the policy takes effect within seconds.
	old := d.pod("old01")
	var refusal error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		_, refusal = kube.Client.CoreV1().Pods("default").Create(ctx, old, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if refusal != nil {
			break
		}
	}
	if refusal == nil || !strings.Contains(refusal.Error(), "CapabilityProfile default/deployment-deathstar-deathstar") {
		t.Fatalf("a deathstar pod without the advised securityContext: %v, want refused by the policy naming its CapabilityProfile", refusal)
	}
	t.Logf("a pod of the template before the patch: %v", refusal)

	// 3. The patch, and the pod of the ReplicaSet the Deployment controller
	// would roll out from the patched template.
	apply("--yes")
	dep, err := kube.Client.AppsV1().Deployments("default").Get(ctx, "deathstar", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc := dep.Spec.Template.Spec.Containers[0].SecurityContext
	if sc == nil || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Add, []corev1.Capability{"NET_BIND_SERVICE"}) ||
		!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Fatalf("deathstar's securityContext after capprof apply --yes: %+v, want add [NET_BIND_SERVICE] drop [ALL]", sc)
	}
	rolledOut := rollOut(t, ap, dep)
	pod, err := kube.Client.CoreV1().Pods("default").Create(ctx, rolledOut.pod("r0ll1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("the rolled-out deathstar pod was not admitted: %v", err)
	}

	// 4. Its container with exactly that securityContext: containerd's
	// default set less what drop ALL takes, plus what add gives back.
	ctr := runWithCapabilities(t, ctrd, left, string(pod.UID), sc.Capabilities)
	if got := effective(t, ctr.PID); got != caps.Set(0).With(10) {
		t.Fatalf("the rolled-out container holds %v, want only CAP_NET_BIND_SERVICE", got)
	}
	if out, err := ctrd.Exec(ctr, 0, "httpd", "-p", "80", "-h", "/"); err != nil {
		t.Fatalf("httpd on port 80 with the advised securityContext: %v\n%s", err, out)
	}
	// Without the one capability the advice adds, the server cannot start.
	bare := runWithCapabilities(t, ctrd, left, string(pod.UID), &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}})
	if out, err := ctrd.Exec(bare, 0, "httpd", "-p", "80", "-h", "/"); err == nil {
		t.Fatalf("httpd bound port 80 without NET_BIND_SERVICE:\n%s", out)
	}
}

// rollOut creates the ReplicaSet that the Deployment controller would make
// for dep's current template.
func rollOut(t *testing.T, ap *applier, dep *appsv1.Deployment) *deathstarDeployment {
	t.Helper()
	tmpl := *dep.Spec.Template.DeepCopy()
	tmpl.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = rolledOutHash
	selector := dep.Spec.Selector.DeepCopy()
	selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] = rolledOutHash
	rs := &appsv1.ReplicaSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		ObjectMeta: metav1.ObjectMeta{
			Name: dep.Name + "-" + rolledOutHash, Namespace: dep.Namespace, Labels: tmpl.Labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "Deployment", Name: dep.Name, UID: dep.UID,
				Controller: ptr(true), BlockOwnerDeletion: ptr(true),
			}},
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: dep.Spec.Replicas, Selector: selector, Template: tmpl},
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(rs)
	if err != nil {
		t.Fatal(err)
	}
	created := &appsv1.ReplicaSet{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(ap.create(t, &unstructured.Unstructured{Object: u}).Object, created); err != nil {
		t.Fatal(err)
	}
	return &deathstarDeployment{replicaSet: created}
}

// runWithCapabilities runs a container of pod podUID whose capabilities
// are what a container runtime makes of a securityContext's capabilities:
// its default set (read from a container run without flags, not assumed),
// less drop (ALL: all of it), plus add.
func runWithCapabilities(t *testing.T, ctrd *testenv.Containerd, left *leftovers, podUID string, c *corev1.Capabilities) testenv.Container {
	t.Helper()
	plain := ctrd.RunContainerInPod(podUID)
	left.add(plain)
	defaults := effective(t, plain.PID)
	parse := func(names []corev1.Capability) (set caps.Set) {
		for _, n := range names {
			if strings.EqualFold(string(n), "ALL") {
				set |= defaults
				continue
			}
			id, err := caps.Parse(string(n))
			if err != nil {
				t.Fatal(err)
			}
			set = set.With(id)
		}
		return set
	}
	// Kubernetes drops, then adds; ctr applies its adds before its drops,
	// so what is added is not dropped.
	add := parse(c.Add)
	var flags []string
	for _, id := range (parse(c.Drop) &^ add).IDs() {
		flags = append(flags, "--cap-drop", caps.Name(id))
	}
	for _, id := range add.IDs() {
		flags = append(flags, "--cap-add", caps.Name(id))
	}
	ctr := testenv.Container{ID: testenv.ContainerID(), PodUID: podUID}
	ctr.Cgroup = strings.TrimSuffix(plain.Cgroup, plain.ID) + ctr.ID
	ctr.PID = ctrd.Run(ctr.ID, testenv.BusyboxImage, ctr.Cgroup, flags, "sleep", "3600")
	left.add(ctr)
	return ctr
}

// effective reads a process's effective capability set from /proc.
func effective(t *testing.T, pid int) caps.Set {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return caps.Set(n)
		}
	}
	t.Fatalf("no CapEff in /proc/%d/status", pid)
	return 0
}
