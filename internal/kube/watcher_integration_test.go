//go:build integration

package kube_test

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/kube"
	"github.com/capprof/capprof/internal/testenv"
)

const node = "node-1"

// states collects the watcher's state reports.
type states struct {
	mu  sync.Mutex
	got []kube.State
	ch  chan kube.State
}

func newStates() *states { return &states{ch: make(chan kube.State, 64)} }

func (s *states) report(st kube.State, _ error) {
	s.mu.Lock()
	s.got = append(s.got, st)
	s.mu.Unlock()
	s.ch <- st
}

func (s *states) waitFor(t *testing.T, want kube.State, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case st := <-s.ch:
			if st == want {
				return
			}
		case <-deadline:
			s.mu.Lock()
			defer s.mu.Unlock()
			t.Fatalf("state %s not reported within %s; reports: %v", want, within, s.got)
		}
	}
}

func startWatcher(t *testing.T, kubeconfig string, labels kube.Labels, st *states) *kube.Watcher {
	t.Helper()
	cfg := kube.DefaultConfig(node)
	cfg.Auth, cfg.Kubeconfig, cfg.Labels = kube.AuthKubeconfig, kubeconfig, labels
	cfg.OnState = st.report
	w, err := kube.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return w
}

// waitLookup polls until the lookup gives want.
func waitLookup(t *testing.T, w *kube.Watcher, containerID, podUID string, want kube.Match) *check.Kubernetes {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, match := w.Lookup(containerID, podUID)
		if match == want {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("lookup(%s, %s) = %v, want %v", containerID, podUID, match, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func controllerRef(kind, apiVersion, name string, uid types.UID) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: &yes}}
}

func podSpec(nodeName string, containers ...corev1.Container) corev1.PodSpec {
	return corev1.PodSpec{NodeName: nodeName, Containers: containers}
}

func TestWatcherAgainstAPIServer(t *testing.T) {
	k := testenv.StartKube(t)
	ctx := context.Background()
	kubeconfig := k.AgentKubeconfig(kube.PolicyRules())
	st := newStates()
	labels, err := kube.ParseLabels("app,tier")
	if err != nil {
		t.Fatal(err)
	}
	w := startWatcher(t, kubeconfig, labels, st)
	st.waitFor(t, kube.StateSynced, time.Minute)

	k.CreateNamespace("shop")
	k.CreateNamespace("batch")
	apps, batch, core := k.Client.AppsV1(), k.Client.BatchV1(), k.Client.CoreV1()

	// Deployment -> ReplicaSet -> Pod, with init, regular and ephemeral
	// containers and a declared securityContext.
	dep, err := apps.Deployments("shop").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := apps.ReplicaSets("shop").Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-7d9f8c6b5", OwnerReferences: controllerRef("Deployment", "apps/v1", dep.Name, dep.UID)},
		Spec: appsv1.ReplicaSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: dep.Spec.Template,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	privileged, no := true, false
	setupImage := "busybox@sha256:" + testenv.ContainerID()
	webPod, err := core.Pods("shop").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            "web-7d9f8c6b5-x2x9k",
			Labels:          map[string]string{"app": "web", "tier": "front", "pod-template-hash": "7d9f8c6b5"},
			OwnerReferences: controllerRef("ReplicaSet", "apps/v1", rs.Name, rs.UID),
		},
		Spec: corev1.PodSpec{
			NodeName:       node,
			InitContainers: []corev1.Container{{Name: "setup", Image: setupImage, SecurityContext: &corev1.SecurityContext{Privileged: &privileged}}},
			Containers: []corev1.Container{{
				Name: "nginx", Image: "registry.local:5000/shop/nginx:1.27",
				SecurityContext: &corev1.SecurityContext{Privileged: &no, Capabilities: &corev1.Capabilities{
					Add: []corev1.Capability{"NET_BIND_SERVICE", "NET_ADMIN"}, Drop: []corev1.Capability{"ALL"}}},
			}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// Before the kubelet reports the containers, the pod is known but the
	// container is not: a late binding case.
	nginxID, setupID, debugID := testenv.ContainerID(), testenv.ContainerID(), testenv.ContainerID()
	pending := waitLookup(t, w, nginxID, string(webPod.UID), kube.MatchPodPending)
	if pending.PodName != webPod.Name || pending.ContainerName != "" || pending.Deployment != "web" {
		t.Errorf("pod-level metadata before the status: %+v", pending)
	}
	drain(w.Changed())
	k.SetContainersRunning("shop", webPod.Name, map[string]string{"nginx": nginxID, "setup": setupID})
	select {
	case <-w.Changed():
	case <-time.After(30 * time.Second):
		t.Fatal("no change notified after the status update")
	}
	podLevel := check.Kubernetes{
		Namespace: "shop", PodName: webPod.Name, PodUID: string(webPod.UID), NodeName: node,
		Deployment: "web", ReplicaSet: "web-7d9f8c6b5",
		Labels: []check.Label{{Key: "app", Value: "web"}, {Key: "tier", Value: "front"}},
	}
	nginx := podLevel
	nginx.ContainerName, nginx.ImageName, nginx.ImageTag = "nginx", "registry.local:5000/shop/nginx", "1.27"
	nginx.ImageID = testenv.ImageID("registry.local:5000/shop/nginx:1.27")
	nginx.Declared = &check.SecurityContext{Add: []string{"NET_BIND_SERVICE", "NET_ADMIN"}, Drop: []string{"ALL"}}
	setup := podLevel
	setup.ContainerName, setup.ImageName = "setup", "busybox"
	setup.ImageID = testenv.ImageID(setupImage)
	setup.Declared = &check.SecurityContext{Add: []string{}, Drop: []string{}, Privileged: true}
	expect(t, waitLookup(t, w, nginxID, string(webPod.UID), kube.MatchContainer), &nginx)
	expect(t, waitLookup(t, w, setupID, "", kube.MatchContainer), &setup)
	// The sandbox: the pod lists every container, this id is not one.
	expect(t, waitLookup(t, w, testenv.ContainerID(), string(webPod.UID), kube.MatchPod), &podLevel)

	// An ephemeral container (kubectl debug).
	webPod, err = core.Pods("shop").Get(ctx, webPod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	webPod.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debug", Image: "busybox:1.37",
		SecurityContext: &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_PTRACE"}}},
	}}}
	if _, err := core.Pods("shop").UpdateEphemeralContainers(ctx, webPod.Name, webPod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	k.SetContainersRunning("shop", webPod.Name, map[string]string{"nginx": nginxID, "setup": setupID, "debug": debugID})
	debug := podLevel
	debug.ContainerName, debug.ImageName, debug.ImageTag = "debug", "busybox", "1.37"
	debug.ImageID = testenv.ImageID("busybox:1.37")
	debug.Declared = &check.SecurityContext{Add: []string{"SYS_PTRACE"}, Drop: []string{}}
	expect(t, waitLookup(t, w, debugID, "", kube.MatchContainer), &debug)

	// CronJob -> Job -> Pod.
	cj, err := batch.CronJobs("batch").Create(ctx, &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "backup"},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "backup", Image: "backup:2"}}}},
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	job, err := batch.Jobs("batch").Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "backup-29012345", OwnerReferences: controllerRef("CronJob", "batch/v1", cj.Name, cj.UID)},
		Spec:       cj.Spec.JobTemplate.Spec,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	jobPod, err := core.Pods("batch").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "backup-29012345-abcde", Labels: map[string]string{"app": "backup", "other": "x"},
			OwnerReferences: controllerRef("Job", "batch/v1", job.Name, job.UID)},
		Spec: corev1.PodSpec{NodeName: node, RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "backup", Image: "backup:2"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	backupID := testenv.ContainerID()
	k.SetContainersRunning("batch", jobPod.Name, map[string]string{"backup": backupID})
	backup := &check.Kubernetes{
		Namespace: "batch", PodName: jobPod.Name, PodUID: string(jobPod.UID), NodeName: node,
		ContainerName: "backup", ImageName: "backup", ImageTag: "2", ImageID: testenv.ImageID("backup:2"),
		Declared: &check.SecurityContext{Add: []string{}, Drop: []string{}},
		Job:      job.Name, CronJob: "backup", Labels: []check.Label{{Key: "app", Value: "backup"}},
	}
	expect(t, waitLookup(t, w, backupID, string(jobPod.UID), kube.MatchContainer), backup)

	// A ReplicaSet whose name does not give its Deployment's away: only
	// the GET of the ReplicaSet (allowed by kube.PolicyRules) can tell.
	legacyRS, err := apps.ReplicaSets("shop").Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "legacy-5f6d", OwnerReferences: controllerRef("Deployment", "apps/v1", dep.Name, dep.UID)},
		Spec: appsv1.ReplicaSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: dep.Spec.Template,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	legacyPod, err := core.Pods("shop").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "legacy-5f6d-q", OwnerReferences: controllerRef("ReplicaSet", "apps/v1", legacyRS.Name, legacyRS.UID)},
		Spec:       podSpec(node, corev1.Container{Name: "c", Image: "c"}),
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m := waitLookup(t, w, "", string(legacyPod.UID), kube.MatchPodPending); m.Deployment != "web" || m.ReplicaSet != "legacy-5f6d" {
		t.Errorf("owners of a ReplicaSet pod: deployment %q replicaset %q, want web, legacy-5f6d", m.Deployment, m.ReplicaSet)
	}

	// A pod of another node is not watched.
	other, err := core.Pods("shop").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "elsewhere"},
		Spec:       podSpec("node-2", corev1.Container{Name: "c", Image: "c"}),
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	otherID := testenv.ContainerID()
	k.SetContainersRunning("shop", other.Name, map[string]string{"c": otherID})

	// The API server goes away: lookups keep answering, the state says so.
	k.StopAPIServer()
	st.waitFor(t, kube.StateUnreachable, time.Minute)
	expect(t, waitLookup(t, w, nginxID, string(webPod.UID), kube.MatchContainer), &nginx)
	expect(t, waitLookup(t, w, backupID, "", kube.MatchContainer), backup)
	if w.State() != kube.StateUnreachable {
		t.Errorf("State() = %s while the API server is down", w.State())
	}

	// It comes back: the informer resyncs, and a pod created since is seen.
	k.StartAPIServer()
	st.waitFor(t, kube.StateSynced, 2*time.Minute)
	late, err := core.Pods("shop").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "after-restart", Labels: map[string]string{"app": "late"}},
		Spec:       podSpec(node, corev1.Container{Name: "c", Image: "c:1"}),
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lateID := testenv.ContainerID()
	k.SetContainersRunning("shop", late.Name, map[string]string{"c": lateID})
	if m := waitLookup(t, w, lateID, string(late.UID), kube.MatchContainer); m.PodName != "after-restart" {
		t.Errorf("pod created after the restart: %+v", m)
	}
	if _, match := w.Lookup(otherID, string(other.UID)); match != kube.MatchNone {
		t.Errorf("a pod of node-2 was indexed: %v", match)
	}

	// A deleted pod stays known for its in-flight checks.
	if err := core.Pods("shop").Delete(ctx, late.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if _, match := w.Lookup(lateID, ""); match != kube.MatchContainer {
		t.Errorf("deleted pod forgotten at once: %v", match)
	}
}

func expect(t *testing.T, got, want *check.Kubernetes) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("metadata\n got %+v\nwant %+v", got, want)
		if got != nil && want != nil && !reflect.DeepEqual(got.Declared, want.Declared) {
			t.Errorf("declared: got %+v, want %+v", got.Declared, want.Declared)
		}
	}
}

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
