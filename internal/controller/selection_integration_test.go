//go:build integration

package controller_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/capprof/capprof/api/v1alpha1"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/kube"
	caprec "github.com/capprof/capprof/internal/recording"
	"github.com/capprof/capprof/internal/selection"
	"github.com/capprof/capprof/internal/testenv"
)

// TestRecordingNarrowsTheKernelLive runs xwing and tiefighter pods in real
// containers with the controller following CapabilityRecordings, as the
// agent's ServiceAccount with the agent's rules: with no recording both are
// recorded (the default, record all); a recording for class=xwing makes
// the kernel drop tiefighter's checks, counted, while xwing's still come;
// deleting it restores the default. A pod that starts while the recording
// exists is recorded from its first checks.
func TestRecordingNarrowsTheKernelLive(t *testing.T) {
	k := testenv.StartKube(t)
	k.InstallCRDs()
	cd := testenv.StartContainerd(t)
	ctx := context.Background()
	k.CreateNamespace("empire")
	xwing := runPod(t, k, cd, "xwing", map[string]string{"class": "xwing", "org": "alliance"})
	tiefighter := runPod(t, k, cd, "tiefighter", map[string]string{"class": "tiefighter", "org": "empire"})

	cfg := controller.DefaultConfig()
	cfg.FlushInterval = 200 * time.Millisecond
	cfg.MaxBatchDelay = 200 * time.Millisecond
	cfg.CgroupInclude = []string{cd.Kubepods()} // this test's pods only
	kc := controller.DefaultKubernetesConfig("node-1")
	kc.Watch.Auth = kube.AuthKubeconfig
	kc.Watch.Kubeconfig = k.AgentKubeconfig(slices.Concat(kube.PolicyRules(), caprec.PolicyRules()))
	cfg.Kubernetes = &kc
	sc := controller.DefaultSelectionConfig()
	sc.StatusInterval = 200 * time.Millisecond
	cfg.Selection = &sc
	rec := start(t, cfg)

	dmesgIn := func(ctr testenv.Container) time.Time {
		t.Helper()
		at := time.Now()
		if out, err := cd.Exec(ctr, nobody, "dmesg"); err == nil {
			t.Fatalf("dmesg as nobody succeeded in %s:\n%s", ctr.ID[:12], out)
		}
		return at
	}
	// syslogSince reports whether a denied CAP_SYSLOG check of ctr made at
	// or after since has been written.
	syslogSince := func(ctr testenv.Container, since time.Time) bool {
		rec.sink.mu.Lock()
		defer rec.sink.mu.Unlock()
		return slices.ContainsFunc(rec.sink.checks, func(c check.Check) bool {
			return c.Container.ID == ctr.ID && c.Cap == capSyslog && c.Denied && !c.Time.Before(since)
		})
	}
	unselected := func() uint64 { s := rec.ctl.Stats(); return s.UnselectedSkipped[capSyslog] }

	// No recording: everything is recorded.
	at := dmesgIn(tiefighter)
	waitFor(t, "tiefighter's check with no recording", func() bool { return syslogSince(tiefighter, at) })
	if s := rec.ctl.Stats(); s.Selecting || s.UnselectedSkipped.Total() != 0 {
		t.Fatalf("with no recording: selecting %v, %d checks dropped", s.Selecting, s.UnselectedSkipped.Total())
	}

	client, err := dynamic.NewForConfig(k.Config)
	if err != nil {
		t.Fatal(err)
	}
	recordings := client.Resource(caprec.Resource).Namespace("empire")
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "capprof.dev/v1alpha1", "kind": "CapabilityRecording",
		"metadata": map[string]any{"name": "xwing-only"},
		"spec":     map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"class": "xwing"}}},
	}}
	if _, err := recordings.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the recording's selection in the kernel", func() bool {
		s := rec.ctl.Stats()
		return s.Selecting && s.SelectedCgroups == 1
	})
	selected := time.Now()
	before := unselected()
	dmesgIn(tiefighter)
	at = dmesgIn(xwing)
	waitFor(t, "xwing's check while selected", func() bool { return syslogSince(xwing, at) })
	waitFor(t, "tiefighter's check counted as dropped", func() bool { return unselected() > before })
	if syslogSince(tiefighter, selected) {
		t.Errorf("a check of tiefighter, outside the recording, was recorded")
	}
	waitStatus(t, recordings, "xwing-only", "the node's entry and the summary", func(st v1alpha1.CapabilityRecordingStatus) bool {
		return st.ActiveWorkloads == 1 && len(st.Nodes) == 1 && reflect.DeepEqual(st.Nodes[0], v1alpha1.RecordingNodeStatus{
			Node: "node-1", Pods: 1, Cgroups: 1, Workloads: []string{"pod-xwing-spaceship"}, Recorded: []string{"pod-xwing-spaceship"},
		}) && meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionRecording) &&
			meta.IsStatusConditionFalse(st.Conditions, v1alpha1.ConditionComplete)
	})
	rows := testenv.Rows(t, testenv.GetTable(t, k.Config, "/apis/capprof.dev/v1alpha1/namespaces/empire/capabilityrecordings/xwing-only"))
	if len(rows) != 1 {
		t.Fatalf("the table of empire/xwing-only has %d rows", len(rows))
	}
	row := rows[0].Cells
	t.Logf("kubectl get capabilityrecordings -n empire: %v", row)
	if row["Active"] != float64(1) || row["Recording"] != "True" || row["Selector"] != `{"class":"xwing"}` {
		t.Errorf("printer columns %v, want Active 1, Recording True and the selector", row)
	}

	// A pod of the class that starts now is selected by its cgroup's
	// creation, before its status names anything.
	late := runPod(t, k, cd, "xwing-2", map[string]string{"class": "xwing"})
	waitFor(t, "the new pod's cgroup selected", func() bool { return rec.ctl.Stats().SelectedCgroups == 2 })
	at = dmesgIn(late)
	waitFor(t, "the new xwing's check", func() bool { return syslogSince(late, at) })

	if err := recordings.Delete(ctx, "xwing-only", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the selection off", func() bool {
		s := rec.ctl.Stats()
		return !s.Selecting && s.SelectedCgroups == 0
	})
	at = dmesgIn(tiefighter)
	waitFor(t, "tiefighter's check once the recording is deleted", func() bool { return syslogSince(tiefighter, at) })

	// A window of a few seconds: the selection ends with it, and the
	// status names the profile that exists (the gateway's exporter would
	// have written it; here the test does).
	obj.SetName("xwing-window")
	if err := unstructured.SetNestedField(obj.Object, "4s", "spec", "duration"); err != nil {
		t.Fatal(err)
	}
	if _, err := recordings.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the window's selection in the kernel", func() bool { return rec.ctl.Stats().Selecting })
	profiles := client.Resource(caprec.Resource.GroupVersion().WithResource("capabilityprofiles")).Namespace("empire")
	for _, name := range []string{"pod-xwing-spaceship", "pod-tiefighter-spaceship"} {
		p := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "capprof.dev/v1alpha1", "kind": "CapabilityProfile", "metadata": map[string]any{"name": name},
			"spec": map[string]any{"workload": map[string]any{"kind": "Pod", "name": strings.TrimSuffix(strings.TrimPrefix(name, "pod-"), "-spaceship")},
				"container": "spaceship"},
		}}
		if _, err := profiles.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the selection off at the window's end", func() bool { return !rec.ctl.Stats().Selecting })
	waitStatus(t, recordings, "xwing-window", "the end of the window", func(st v1alpha1.CapabilityRecordingStatus) bool {
		c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionComplete)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == v1alpha1.ReasonDurationElapsed &&
			meta.IsStatusConditionFalse(st.Conditions, v1alpha1.ConditionRecording) && st.ActiveWorkloads == 0 &&
			// xwing-2 was recorded too, but has no profile; tiefighter's
			// profile exists, but was not recorded.
			slices.Equal(st.Profiles, []string{"pod-xwing-spaceship"})
	})

	// Until the profiles are Stable: the window ends when every recorded
	// workload container's profile is (the exporter sets the condition;
	// here the test does, for xwing's and xwing-2's).
	obj.SetName("xwing-until-stable")
	unstructured.RemoveNestedField(obj.Object, "spec", "duration")
	if err := unstructured.SetNestedField(obj.Object, true, "spec", "untilStable"); err != nil {
		t.Fatal(err)
	}
	if _, err := recordings.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, recordings, "xwing-until-stable", "both xwings recorded", func(st v1alpha1.CapabilityRecordingStatus) bool {
		return st.ActiveWorkloads == 2 && meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionRecording)
	})
	if !rec.ctl.Stats().Selecting {
		t.Fatal("the selection is off while the recording waits for stable profiles")
	}
	for _, name := range []string{"pod-xwing-spaceship", "pod-xwing-2-spaceship"} {
		p, err := profiles.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			p = &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "capprof.dev/v1alpha1", "kind": "CapabilityProfile", "metadata": map[string]any{"name": name},
				"spec": map[string]any{"workload": map[string]any{"kind": "Pod", "name": "xwing-2"}, "container": "spaceship"},
			}}
			p, err = profiles.Create(ctx, p, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
		stable := map[string]any{"type": "Stable", "status": "True", "reason": "NoNewCapability", "message": "",
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}
		if err := unstructured.SetNestedSlice(p.Object, []any{stable}, "status", "conditions"); err != nil {
			t.Fatal(err)
		}
		if _, err := profiles.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitStatus(t, recordings, "xwing-until-stable", "the end at stable profiles", func(st v1alpha1.CapabilityRecordingStatus) bool {
		c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionComplete)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == v1alpha1.ReasonProfilesStable &&
			slices.Equal(st.Profiles, []string{"pod-xwing-2-spaceship", "pod-xwing-spaceship"})
	})
	waitFor(t, "the selection off once the profiles are stable", func() bool { return !rec.ctl.Stats().Selecting })
	_, stats := rec.stop(t)
	t.Logf("dropped outside the recording: %s", &stats.UnselectedSkipped)
}

// TestRecordingOfNamedContainers selects one container of a two-container
// pod whose status names no container yet, as in a pod's first
// milliseconds. Both containers fail dmesg before the kubelet reports
// their ids: the app's check is recorded (the kernel selects the pod's
// cgroup, and the check waits for its container's name), the sidecar's is
// dropped and counted, and nothing else is recorded (the recording's
// default "selected").
func TestRecordingOfNamedContainers(t *testing.T) {
	k := testenv.StartKube(t)
	k.InstallCRDs()
	cd := testenv.StartContainerd(t)
	ctx := context.Background()
	k.CreateNamespace("shop")
	pod, err := k.Client.CoreV1().Pods("shop").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{
			{Name: "app", Image: "busybox:1.37"}, {Name: "sidecar", Image: "busybox:1.37"},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	app, sidecar := cd.RunContainerInPod(string(pod.UID)), cd.RunContainerInPod(string(pod.UID))

	cfg := controller.DefaultConfig()
	cfg.FlushInterval = 200 * time.Millisecond
	cfg.MaxBatchDelay = 200 * time.Millisecond
	// Other packages' containers fail dmesg too: outside this test's pods
	// they would count as dropped by the selection.
	cfg.CgroupInclude = []string{cd.Kubepods()}
	kc := controller.DefaultKubernetesConfig("node-1")
	kc.Watch.Auth, kc.Watch.Kubeconfig = kube.AuthKubeconfig, k.WriteKubeconfig(k.Config)
	cfg.Kubernetes = &kc
	sc := controller.DefaultSelectionConfig()
	sc.Default, sc.StatusInterval = selection.RecordSelected, 200*time.Millisecond
	cfg.Selection = &sc
	rec := start(t, cfg)

	client, err := dynamic.NewForConfig(k.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Resource(caprec.Resource).Namespace("shop").Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "capprof.dev/v1alpha1", "kind": "CapabilityRecording", "metadata": map[string]any{"name": "app-only"},
		"spec": map[string]any{"podSelector": map[string]any{}, "containers": []any{"app"}},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pod's cgroup selected", func() bool { return rec.ctl.Stats().SelectedCgroups == 1 })
	for _, ctr := range []testenv.Container{sidecar, app} {
		if out, err := cd.Exec(ctr, nobody, "dmesg"); err == nil {
			t.Fatalf("dmesg as nobody succeeded:\n%s", out)
		}
	}
	k.SetContainersRunning("shop", "web", map[string]string{"app": app.ID, "sidecar": sidecar.ID})
	waitFor(t, "the sidecar's check dropped and nothing held", func() bool {
		st := rec.ctl.Stats()
		return st.UnselectedSkipped[capSyslog] > 0 && st.Pending == 0
	})
	checks, stats := rec.stop(t)
	t.Logf("held for their container's name: %d", stats.Held)
	var fromApp int
	for _, c := range checks {
		switch {
		case c.Container.ID == app.ID && c.Kubernetes != nil && c.Kubernetes.ContainerName == "app":
			if c.Cap == capSyslog {
				fromApp++
			}
		default:
			t.Errorf("a check outside the app container was recorded: %s in %q by %v", c.Body(), c.CgroupPath, c.Process.Args)
		}
	}
	if fromApp == 0 {
		t.Error("no CAP_SYSLOG check of the app container")
	}
}

// waitStatus waits until the recording's status satisfies ok.
func waitStatus(t *testing.T, client dynamic.ResourceInterface, name, what string, ok func(v1alpha1.CapabilityRecordingStatus) bool) {
	t.Helper()
	testenv.WaitRecordingStatus(t, client, name, 30*time.Second, ok, func() string { return "waiting for " + what })
}

// runPod creates a pod on node-1 with one container, spaceship, runs it
// under containerd in the pod's cgroup and reports it running.
func runPod(t *testing.T, k *testenv.Kube, cd *testenv.Containerd, name string, labels map[string]string) testenv.Container {
	t.Helper()
	pod, err := k.Client.CoreV1().Pods("empire").Create(context.Background(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "spaceship", Image: "busybox:1.37"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctr := cd.RunContainerInPod(string(pod.UID))
	k.SetContainersRunning("empire", name, map[string]string{"spaceship": ctr.ID})
	return ctr
}
