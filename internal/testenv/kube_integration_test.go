//go:build integration

package testenv

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestKube checks the control plane the kube tests rely on: an admin, a
// ServiceAccount token that RBAC governs, a kubeconfig file, and an API
// server restart that keeps the data and the certificates.
func TestKube(t *testing.T) {
	k := StartKube(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if _, err := k.Client.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("admin get namespace default: %v", err)
	}

	sa, err := kubernetes.NewForConfig(k.ServiceAccountConfig("agent", "capprof"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = sa.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("service account without a role listed pods: err = %v, want Forbidden", err)
	}
	if !strings.Contains(err.Error(), "system:serviceaccount:agent:capprof") {
		t.Fatalf("forbidden for the wrong user: %v", err)
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", k.WriteKubeconfig(k.Config))
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fromFile.CoreV1().Namespaces().Get(ctx, "agent", metav1.GetOptions{}); err != nil {
		t.Fatalf("get namespace through the kubeconfig file: %v", err)
	}

	k.StopAPIServer()
	if _, err := k.Client.CoreV1().Namespaces().Get(ctx, "agent", metav1.GetOptions{}); err == nil {
		t.Fatal("the API server answered while stopped")
	}
	k.StartAPIServer()
	if _, err := k.Client.CoreV1().Namespaces().Get(ctx, "agent", metav1.GetOptions{}); err != nil {
		t.Fatalf("namespace lost across an API server restart: %v", err)
	}
}
