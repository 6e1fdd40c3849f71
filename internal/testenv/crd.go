package testenv

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// InstallCRDs creates the capprof.dev CustomResourceDefinitions of
// deploy/crds, as committed, and waits until the API server serves them.
func (k *Kube) InstallCRDs() {
	k.t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "deploy", "crds")
	files, err := filepath.Glob(filepath.Join(dir, "capprof.dev_*.yaml"))
	if err != nil || len(files) == 0 {
		k.t.Fatalf("no CRDs in %s: %v", dir, err)
	}
	client, err := dynamic.NewForConfig(k.Config)
	if err != nil {
		k.t.Fatal(err)
	}
	ctx := context.Background()
	var names []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			k.t.Fatal(err)
		}
		var obj map[string]any
		if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096).Decode(&obj); err != nil {
			k.t.Fatalf("%s: %v", f, err)
		}
		crd, err := client.Resource(crdResource).Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
		if err != nil {
			k.t.Fatalf("create CRD of %s: %v", f, err)
		}
		names = append(names, crd.GetName())
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, name := range names {
		for !k.crdEstablished(client, name) {
			if time.Now().After(deadline) {
				k.t.Fatalf("CRD %s not established after 30s", name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// crdEstablished says whether the CRD's Established condition is true.
func (k *Kube) crdEstablished(client dynamic.Interface, name string) bool {
	crd, err := client.Resource(crdResource).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		k.t.Fatalf("get CRD %s: %v", name, err)
	}
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
