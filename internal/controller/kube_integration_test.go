//go:build integration

package controller_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/kube"
	"github.com/capprof/capprof/internal/testenv"
	"github.com/capprof/capprof/internal/tracer"
)

// TestContainerChecksCarryPodMetadata runs real containers in the cgroup of
// a pod created in a real API server, with the controller watching it:
// checks made before the (test's stand-in for the) kubelet reports the
// container are held and enriched once it does, and the runtime's own
// setup checks are marked.
func TestContainerChecksCarryPodMetadata(t *testing.T) {
	k := testenv.StartKube(t)
	cd := testenv.StartContainerd(t)
	ctx := context.Background()
	k.CreateNamespace("shop")
	pod, err := k.Client.CoreV1().Pods("shop").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{
			{Name: "app", Image: "busybox:1.37", SecurityContext: &corev1.SecurityContext{
				Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}, Drop: []corev1.Capability{"ALL"}}}},
			{Name: "sidecar", Image: "busybox:1.37"},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// Host processes included (the default); runtime_setup is the same with
	// them excluded (TestRuntimeSetupMarkedWhateverTheFilters).
	cfg := controller.DefaultConfig()
	cfg.FlushInterval = 200 * time.Millisecond
	cfg.MaxBatchDelay = 200 * time.Millisecond
	// This test's pods only: other packages' containers, unknown to this
	// API server, would be held too and keep Pending above zero.
	cfg.CgroupInclude = []string{cd.Kubepods()}
	kc := controller.DefaultKubernetesConfig("node-1")
	kc.Watch.Auth, kc.Watch.Kubeconfig = kube.AuthKubeconfig, k.WriteKubeconfig(k.Config)
	kc.Watch.Labels = kube.Labels{All: true}
	kc.MaxWait = time.Minute // the test releases them, not the clock
	cfg.Kubernetes = &kc
	rec := start(t, cfg)

	// Started while recording: runc init's checks are in the container's
	// cgroup too.
	app := cd.RunContainerInPod(string(pod.UID))
	if out, err := cd.Exec(app, nobody, "dmesg"); err == nil {
		t.Fatalf("dmesg as nobody succeeded in the container:\n%s", out)
	}
	waitFor(t, "a check held for its pod", func() bool { return rec.ctl.Stats().Held > 0 })

	// The kubelet reports the containers: the held checks are released.
	sidecar := cd.RunContainerInPod(string(pod.UID))
	k.SetContainersRunning("shop", "web", map[string]string{"app": app.ID, "sidecar": sidecar.ID})
	waitFor(t, "the held checks released", func() bool { return rec.ctl.Stats().Pending == 0 })
	if out, err := cd.Exec(sidecar, nobody, "dmesg"); err == nil {
		t.Fatalf("dmesg as nobody succeeded in the sidecar:\n%s", out)
	}
	checks, stats := rec.stop(t)

	if stats.Unbound != 0 {
		t.Errorf("%d checks emitted without their metadata", stats.Unbound)
	}
	podLevel := check.Kubernetes{Namespace: "shop", PodName: "web", PodUID: string(pod.UID), NodeName: "node-1",
		Labels: []check.Label{{Key: "app", Value: "web"}}}
	want := map[string]check.Kubernetes{app.ID: podLevel, sidecar.ID: podLevel}
	appMeta, sidecarMeta := want[app.ID], want[sidecar.ID]
	appMeta.ContainerName, appMeta.ImageName, appMeta.ImageTag = "app", "busybox", "1.37"
	appMeta.ImageID = testenv.ImageID("busybox:1.37")
	appMeta.Declared = &check.SecurityContext{Add: []string{"NET_ADMIN"}, Drop: []string{"ALL"}}
	sidecarMeta.ContainerName, sidecarMeta.ImageName, sidecarMeta.ImageTag = "sidecar", "busybox", "1.37"
	sidecarMeta.ImageID = testenv.ImageID("busybox:1.37")
	sidecarMeta.Declared = &check.SecurityContext{Add: []string{}, Drop: []string{}}
	want[app.ID], want[sidecar.ID] = appMeta, sidecarMeta

	dmesg := map[string]int{}
	setup := map[string]int{}
	for _, c := range checks {
		w, ours := want[c.Container.ID]
		if !ours {
			continue
		}
		if c.Kubernetes == nil || !reflect.DeepEqual(*c.Kubernetes, w) {
			t.Errorf("check %s by %v in %s: metadata %+v, want %+v", c.Body(), c.Process.Args, c.Container.ID[:12], c.Kubernetes, w)
			continue
		}
		if c.Process.ExecutablePath == "/bin/dmesg" {
			dmesg[c.Container.ID]++
			if c.RuntimeSetup {
				t.Errorf("dmesg's check marked as the runtime's setup: %+v", c.Process)
			}
		}
		if c.RuntimeSetup {
			setup[c.Container.ID]++
		}
	}
	for _, id := range []string{app.ID, sidecar.ID} {
		if dmesg[id] == 0 {
			t.Errorf("no dmesg check from container %s", id[:12])
		}
		if setup[id] == 0 {
			t.Errorf("no check from container %s marked as the runtime's setup", id[:12])
		}
	}
	t.Logf("held %d, unbound %d; runtime setup checks: app %d, sidecar %d", stats.Held, stats.Unbound, setup[app.ID], setup[sidecar.ID])
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUniqueModeLastCountsOfAnUnknownPodAreNotLost ends a unique-mode
// recording while a container's pod status has not arrived: the last
// counts, read from the kernel at the end and held for the pod, still go
// out, with the container id and pod UID their cgroup gives.
func TestUniqueModeLastCountsOfAnUnknownPodAreNotLost(t *testing.T) {
	k := testenv.StartKube(t)
	cd := testenv.StartContainerd(t)
	cfg := controller.DefaultConfig()
	cfg.Tracer.Mode = tracer.Unique
	cfg.FlushInterval = time.Hour               // only the final flush reads the counts
	cfg.CgroupInclude = []string{cd.Kubepods()} // this test's pods only
	kc := controller.DefaultKubernetesConfig("node-1")
	kc.Watch.Auth, kc.Watch.Kubeconfig = kube.AuthKubeconfig, k.WriteKubeconfig(k.Config)
	kc.MaxWait = time.Hour
	cfg.Kubernetes = &kc
	rec := start(t, cfg)

	app := cd.RunPodContainer() // a pod the API server never reports
	if out, err := cd.Exec(app, nobody, "dmesg"); err == nil {
		t.Fatalf("dmesg as nobody succeeded in the container:\n%s", out)
	}
	checks, stats := rec.stop(t)
	var syslog uint64
	for _, c := range checks {
		if c.Container.ID == app.ID && caps.Name(c.Cap) == "CAP_SYSLOG" && c.Denied {
			syslog += c.Count
			if c.Container.PodUID != app.PodUID {
				t.Errorf("dmesg's record lost its pod UID: %+v", c.Container)
			}
		}
	}
	if syslog == 0 {
		t.Errorf("dmesg's denied check was lost at the end (held %d, unbound %d, pending %d)", stats.Held, stats.Unbound, stats.Pending)
	}
	if stats.Pending != 0 || stats.Unbound == 0 {
		t.Errorf("stats %+v: want nothing pending and the held checks counted unbound", stats)
	}
}
