//go:build e2e

package k8se2e

import (
	"testing"

	"github.com/capprof/capprof/internal/testenv"
)

// TestHelmChartDryRun submits every object the chart renders, with its
// defaults and with every value set, to a real kube-apiserver as a
// server-side dry run: strict decoding, defaulting, validation and
// admission, as `helm install` would meet them.
func TestHelmChartDryRun(t *testing.T) {
	kube := testenv.StartKube(t)
	ap := newApplier(t, kube.Config)
	for _, tt := range []struct {
		name, namespace string
		flags           []string
	}{
		{name: "defaults", namespace: helmNamespace},
		{name: "every value", namespace: "observability", flags: helmValues},
	} {
		t.Run(tt.name, func(t *testing.T) {
			kube.CreateNamespace(tt.namespace)
			objs := renderHelm(t, tt.flags...)
			if len(objs) == 0 {
				t.Fatal("the chart rendered nothing")
			}
			for _, o := range objs {
				ap.dryRun(t, o)
			}
		})
	}
}
