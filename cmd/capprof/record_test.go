package main

import (
	"testing"
	"time"

	"github.com/capprof/capprof/internal/kube"
)

func TestRecordKubernetesFlags(t *testing.T) {
	t.Setenv("NODE_NAME", "from-env")
	tests := []struct {
		name     string
		flags    recordFlags
		off      bool
		auth     kube.Auth
		node     string
		labels   string
		maxWait  time.Duration
		maxHeld  int
		kubeconf string
	}{
		{name: "off without --kubeconfig and --node-name", flags: recordFlags{kubeLabels: "all"}, off: true},
		{
			name:  "kubeconfig, node from NODE_NAME",
			flags: recordFlags{kubeconfig: "/k", kubeLabels: "app,tier", kubeMaxWait: time.Second, kubeMaxPending: 7},
			auth:  kube.AuthKubeconfig, node: "from-env", labels: "app,tier", maxWait: time.Second, maxHeld: 7, kubeconf: "/k",
		},
		{
			name:  "node name alone is in-cluster",
			flags: recordFlags{nodeName: "node-3", kubeLabels: "none", kubeMaxWait: time.Second, kubeMaxPending: 1},
			auth:  kube.AuthServiceAccount, node: "node-3", labels: "none", maxWait: time.Second, maxHeld: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := tt.flags.kubernetes()
			if err != nil {
				t.Fatal(err)
			}
			if tt.off {
				if k != nil {
					t.Fatalf("kubernetes on: %+v", k)
				}
				return
			}
			w := k.Watch
			if w.Auth != tt.auth || w.NodeName != tt.node || w.Labels.String() != tt.labels || w.Kubeconfig != tt.kubeconf ||
				k.MaxWait != tt.maxWait || k.MaxPending != tt.maxHeld {
				t.Errorf("got %+v / %+v", k, w)
			}
		})
	}
}
