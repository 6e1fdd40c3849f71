//go:build integration

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"

	"github.com/capprof/capprof/api/v1alpha1"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
	"github.com/capprof/capprof/internal/profile"
	"github.com/capprof/capprof/internal/profileobject"
	"github.com/capprof/capprof/internal/testenv"
)

// TestApplyFromCapabilityProfile reads a CapabilityProfile from a real API
// server: without --yes capprof apply prints the patch (golden), with --yes
// the Deployment's container gets the advised securityContext.
func TestApplyFromCapabilityProfile(t *testing.T) {
	k := testenv.StartKube(t)
	k.InstallCRDs()
	k.CreateNamespace("shop")
	ctx := context.Background()
	replicas := int32(1)
	labels := map[string]string{"app": "web"}
	_, err := k.Client.AppsV1().Deployments("shop").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Name: "app", Image: "docker.io/library/nginx:1.27", SecurityContext: &corev1.SecurityContext{
						Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN", "NET_BIND_SERVICE"}},
					}},
					{Name: "sidecar", Image: "docker.io/library/busybox:1.36"},
				}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	createProfileObject(t, k)
	kubeconfig := k.WriteKubeconfig(k.Config)

	var out, errOut bytes.Buffer
	if code := run([]string{"apply", "--kubeconfig", kubeconfig, "--namespace", "shop", "deployment-web-app"}, &out, &errOut); code != 0 {
		t.Fatalf("apply (dry run) exit %d: %s", code, errOut.String())
	}
	golden := filepath.Join("testdata", "apply-dry-run.golden")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (UPDATE_GOLDEN=1 writes it)", err)
	}
	if out.String() != string(want) {
		t.Errorf("dry run printed\n%s\nwant\n%s", out.String(), want)
	}
	dep, err := k.Client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if add := dep.Spec.Template.Spec.Containers[0].SecurityContext.Capabilities.Add; len(add) != 2 {
		t.Fatalf("the dry run changed the Deployment: add %v", add)
	}

	// The same object as an admission policy.
	out.Reset()
	if code := run([]string{"apply", "--kubeconfig", kubeconfig, "--namespace", "shop", "--format", "vap"}, &out, &errOut); code != 0 {
		t.Fatalf("apply --format vap exit %d: %s", code, errOut.String())
	}
	if s := out.String(); !strings.Contains(s, "kind: ValidatingAdmissionPolicy\n") || !strings.Contains(s, "name: capprof.shop.deployment-web-app\n") ||
		!strings.Contains(s, `in ["NET_BIND_SERVICE"]`) {
		t.Errorf("apply --format vap printed\n%s", s)
	}
	if code := run([]string{"apply", "--kubeconfig", kubeconfig, "--format", "vap", "--yes"}, &out, &errOut); code != exitUsage {
		t.Errorf("apply --format vap --yes exit %d, want %d", code, exitUsage)
	}

	out.Reset()
	if code := run([]string{"apply", "--kubeconfig", kubeconfig, "--namespace", "shop", "--yes"}, &out, &errOut); code != 0 {
		t.Fatalf("apply --yes exit %d: %s", code, errOut.String())
	}
	t.Logf("apply --yes: %s", out.String())
	if dep, err = k.Client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	app, sidecar := dep.Spec.Template.Spec.Containers[0], dep.Spec.Template.Spec.Containers[1]
	caps := app.SecurityContext.Capabilities
	if !slices.Equal(caps.Add, []corev1.Capability{"NET_BIND_SERVICE"}) || !slices.Equal(caps.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container app: add %v drop %v, want add [NET_BIND_SERVICE] drop [ALL]", caps.Add, caps.Drop)
	}
	if app.Image != "docker.io/library/nginx:1.27" || sidecar.Name != "sidecar" || sidecar.SecurityContext != nil {
		t.Errorf("the patch touched more than app's securityContext: %+v", dep.Spec.Template.Spec.Containers)
	}
}

// createProfileObject writes the CapabilityProfile of shop's web Deployment's
// app container as the exporter would: NET_BIND_SERVICE granted, SYS_ADMIN
// denied, NET_ADMIN declared but never used.
func createProfileObject(t *testing.T, k *testenv.Kube) {
	t.Helper()
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	b := profile.NewBuilder()
	res := map[string]string{
		profile.AttrNamespace: "shop", profile.AttrDeploymentName: "web", profile.AttrContainerName: "app", "host.name": "node-1",
	}
	declared := map[string]string{profile.AttrDeclaredAdd: "NET_ADMIN,NET_BIND_SERVICE", profile.AttrDeclaredDrop: ""}
	for i, c := range []struct {
		capID  int
		denied bool
	}{{10, false}, {21, true}} {
		b.Add(profile.Observation{Resource: res, Attributes: declared, Check: check.Check{
			Time: at.Add(time.Duration(i) * time.Second), Cap: c.capID, Denied: c.denied, Audit: check.Audited, Count: 1,
			UserNS: check.UserNamespace{IsHost: true}, Syscall: -1, Process: proc.Info{ExecutablePath: "/usr/sbin/nginx"},
		}})
	}
	p := b.Profiles()[0]
	obj := &v1alpha1.CapabilityProfile{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "CapabilityProfile"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Key.ObjectName(), Namespace: "shop"},
		Spec:       profileobject.SpecOf(p.Key),
		Status:     v1alpha1.CapabilityProfileStatus{Sources: []v1alpha1.Source{profileobject.SourceOf(&p, "gw", at)}},
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	client, err := dynamic.NewForConfig(k.Config)
	if err != nil {
		t.Fatal(err)
	}
	res2 := client.Resource(v1alpha1.SchemeGroupVersion.WithResource(v1alpha1.ResourceCapabilityProfiles)).Namespace("shop")
	created, err := res2.Create(context.Background(), &unstructured.Unstructured{Object: m}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Object["status"] = m["status"]
	if _, err := res2.UpdateStatus(context.Background(), created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
