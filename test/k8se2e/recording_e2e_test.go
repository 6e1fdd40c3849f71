//go:build e2e

package k8se2e

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/capprof/capprof/api/v1alpha1"
	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/recording"
	"github.com/capprof/capprof/internal/testenv"
)

// TestStarWarsRecording is docs/kubernetes.md's CapabilityRecording
// example: the demo's xwing and tiefighter on one node, the agent image
// with the DaemonSet's config and its service account (deploy/'s RBAC),
// sending to an OTLP backend. With no recording the agent records both
// (its configured default, all); a CapabilityRecording for class=xwing
// narrows the kernel's selection live, so a check of tiefighter's is
// dropped (and counted) while xwing's arrives; deleting the recording
// restores the default. Each phase makes a check no earlier phase made
// (unique mode would otherwise only add to an existing key's count).
func TestStarWarsRecording(t *testing.T) {
	prereq.RequireRoot(t)
	prereq.RequireCommands(t, "make", "go")
	r := decodeStrict(t, render(t, "deploy/overlays/demo"))
	imageTar := buildAgentImage(t, r.daemonSet.Spec.Template.Spec.Containers[0].Image)

	kube := testenv.StartKube(t)
	kube.InstallCRDs()
	ctrd := testenv.StartContainerd(t)
	ctrd.ImportImage(imageTar)
	backend := startSink(t)
	ap := newApplier(t, kube.Config)
	kube.CreateNamespace("default")
	for _, o := range render(t, "deploy/overlays/demo") {
		switch o.GetKind() {
		case "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding":
			ap.create(t, o)
		}
	}
	ctrs := map[string]testenv.Container{}
	for _, name := range []string{"xwing", "tiefighter"} {
		pod := createPod(t, ap, r.pods[name], nodeA)
		ctrs[name] = ctrd.RunContainerInPod(string(pod.UID))
		kube.SetContainersRunning("default", name, map[string]string{"spaceship": ctrs[name].ID})
	}
	token := kube.ServiceAccountConfig(r.serviceAccount.Namespace, r.serviceAccount.Name).BearerToken
	agent := runAgent(t, ctrd, r.daemonSet, r.agentConfig, agentEnv{
		nodeName: nodeA, podIP: "127.0.0.2", cgroupRoot: ctrd.NodeRoot(), gateway: backend.addr, api: kube.Config, token: token,
	})

	// check runs a busybox applet as uid 65534 in a pod's container and
	// returns the matcher of the denied check it makes.
	check := func(pod, capability, syscall string, args ...string) func(record) bool {
		t.Helper()
		if out, err := ctrd.Exec(ctrs[pod], 65534, args...); err == nil {
			t.Fatalf("%v as uid 65534 succeeded in %s:\n%s", args, pod, out)
		}
		id := ctrs[pod].ID
		return func(r record) bool {
			return r.resource["container.id"] == id && r.attrs["linux.capability.name"] == capability &&
				r.attrs["linux.syscall.name"] == syscall
		}
	}

	// 1. No recording: tiefighter's denied CAP_SYSLOG arrives.
	if backend.waitFor(0, 60*time.Second, check("tiefighter", "CAP_SYSLOG", "syslog", "dmesg")) == nil {
		t.Fatalf("no record of tiefighter's dmesg without a recording; agent log:\n%s", agent.logTail())
	}

	// 2. A recording for class=xwing: once the agent's entry in its status
	// says xwing's pod cgroup is in the kernel, tiefighter is dropped.
	client, err := dynamic.NewForConfig(kube.Config)
	if err != nil {
		t.Fatal(err)
	}
	recordings := client.Resource(recording.Resource).Namespace("default")
	if _, err := recordings.Create(context.Background(), &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "capprof.dev/v1alpha1", "kind": "CapabilityRecording", "metadata": map[string]any{"name": "xwing"},
		"spec": map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"class": "xwing"}}},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	st := waitRecordingStatus(t, recordings, "xwing", agent, func(st v1alpha1.CapabilityRecordingStatus) bool {
		return len(st.Nodes) == 1 && st.Nodes[0].Node == nodeA && st.Nodes[0].Cgroups == 1 && st.ActiveWorkloads == 1 &&
			meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionRecording)
	})
	t.Logf("recording xwing: status %+v", st)
	dropped := check("tiefighter", "CAP_SYS_ADMIN", "sethostname", "hostname", "tiefighter")
	if backend.waitFor(0, 60*time.Second, check("xwing", "CAP_SYS_ADMIN", "sethostname", "hostname", "xwing")) == nil {
		t.Fatalf("no record of xwing's sethostname while it is recorded; agent log:\n%s", agent.logTail())
	}

	// 3. Deleting the recording restores the default: tiefighter is
	// recorded again, from when the agent has seen the deletion.
	if err := recordings.Delete(context.Background(), "xwing", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for backend.waitFor(0, time.Second, check("tiefighter", "CAP_SYS_CHROOT", "chroot", "chroot", "/", "true")) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no record of tiefighter's chroot after the recording was deleted; agent log:\n%s", agent.logTail())
		}
	}

	// 4. The agent's last flush holds everything: tiefighter's sethostname
	// never came, and the agent counted what its kernel dropped.
	agent.stop(t)
	if r := backend.waitFor(0, 0, dropped); r != nil {
		t.Errorf("tiefighter's sethostname, made while only xwing was recorded, was recorded: %+v", r)
	}
	n := 0
	if m := regexp.MustCompile(`"unselected_skipped": (\d+)`).FindStringSubmatch(agent.logTail()); m != nil {
		n, _ = strconv.Atoi(m[1])
	}
	if n == 0 {
		t.Errorf("the agent's final log counts no check dropped outside the recording:\n%s", agent.logTail())
	}
}

// waitRecordingStatus waits until a recording's status satisfies ok.
func waitRecordingStatus(t *testing.T, client dynamic.ResourceInterface, name string, a *agent,
	ok func(v1alpha1.CapabilityRecordingStatus) bool) v1alpha1.CapabilityRecordingStatus {
	t.Helper()
	return testenv.WaitRecordingStatus(t, client, name, 60*time.Second, ok, func() string { return "agent log:\n" + a.logTail() })
}
