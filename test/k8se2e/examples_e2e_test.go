//go:build e2e

package k8se2e

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/capprof/capprof/internal/testenv"
)

// TestGatewayHPAExample submits deploy/examples/gateway-hpa.yaml to a real
// kube-apiserver as a server-side dry run, and checks that it scales the
// gateway StatefulSet that deploy/base makes. (deploy/examples/
// cert-manager.yaml needs cert-manager's CRDs, which cannot be had here;
// TestGatewayRefusesUnauthenticatedSenders makes the Secrets it describes
// with a CA of its own.)
func TestGatewayHPAExample(t *testing.T) {
	path := filepath.Join(repoRoot(), "deploy/examples/gateway-hpa.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeObjects(t, path, data)
	if len(objs) != 1 || objs[0].GetKind() != "HorizontalPodAutoscaler" {
		t.Fatalf("%s: want one HorizontalPodAutoscaler, got %d objects", path, len(objs))
	}
	hpa := objs[0]
	var gateway *unstructured.Unstructured
	for _, o := range render(t, "deploy/base") {
		if o.GetKind() == "StatefulSet" && o.GetName() == gatewayName {
			gateway = o
		}
	}
	if gateway == nil {
		t.Fatalf("deploy/base has no StatefulSet %s", gatewayName)
	}
	kind, _, _ := unstructured.NestedString(hpa.Object, "spec", "scaleTargetRef", "kind")
	name, _, _ := unstructured.NestedString(hpa.Object, "spec", "scaleTargetRef", "name")
	if kind != "StatefulSet" || name != gateway.GetName() || hpa.GetNamespace() != gateway.GetNamespace() {
		t.Errorf("the HPA scales %s %s/%s, want StatefulSet %s/%s", kind, hpa.GetNamespace(), name,
			gateway.GetNamespace(), gateway.GetName())
	}

	kube := testenv.StartKube(t)
	kube.CreateNamespace(hpa.GetNamespace())
	newApplier(t, kube.Config).dryRun(t, hpa)
}
