package kube

import (
	"errors"
	"fmt"
	"testing"
)

func TestValidateNamesTheFieldForTheShells(t *testing.T) {
	names := map[string]string{"NodeName": "--node-name", "Kubeconfig": "kubernetes.kubeconfig"}
	for _, tt := range []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"no node name", func(c *Config) { c.NodeName = "" }, "--node-name: required (the pods of which node to watch; NODE_NAME from the downward API in a DaemonSet)"},
		{"kubeconfig in cluster", func(c *Config) { c.Kubeconfig = "/k" }, "kubernetes.kubeconfig: only with auth kubeConfig"},
		{"unknown auth, not in names", func(c *Config) { c.Auth = "token" }, `shell: Auth: "token" is not serviceAccount or kubeConfig`},
		{"no resync, no field error", func(c *Config) { c.Resync = 0 }, "shell: resync, retain and request timeout: must be positive, got 0s, 2m0s, 10s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig("node-1")
			tt.modify(&cfg)
			err := cfg.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			got := RenameField(fmt.Errorf("shell: %w", err), names)
			if got.Error() != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if fe := (*FieldError)(nil); errors.As(err, &fe) && !errors.Is(got, fe.Err) {
				t.Fatalf("%q does not wrap the rule's error", got)
			}
		})
	}
}
