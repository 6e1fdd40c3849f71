package kube

import (
	"errors"
	"testing"

	"github.com/capprof/capprof/internal/config"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		field  string // "" when the error names no field a shell sets
		want   string
	}{
		{name: "default", modify: func(*Config) {}},
		{name: "kubeconfig with its auth", modify: func(c *Config) { c.Auth, c.Kubeconfig = AuthKubeconfig, "/k" }},
		{name: "unknown auth", modify: func(c *Config) { c.Auth = "token" }, field: "Auth",
			want: `Auth: "token" is not serviceAccount or kubeConfig`},
		{name: "kubeconfig in cluster", modify: func(c *Config) { c.Kubeconfig = "/k" }, field: "Kubeconfig",
			want: "Kubeconfig: only with auth kubeConfig"},
		{name: "no node name", modify: func(c *Config) { c.NodeName = "" }, field: "NodeName",
			want: "NodeName: required (the pods of which node to watch; NODE_NAME from the downward API in a DaemonSet)"},
		{name: "no resync", modify: func(c *Config) { c.Resync = 0 },
			want: "resync, retain and request timeout: must be positive, got 0s, 2m0s, 10s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig("node-1")
			tt.modify(&cfg)
			err := cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
			var fe *config.FieldError
			if got := errors.As(err, &fe); got != (tt.field != "") || got && fe.Field != tt.field {
				t.Errorf("Validate() = %#v, want a FieldError about %q", err, tt.field)
			}
		})
	}
}

func TestAuthText(t *testing.T) {
	tests := []struct {
		name string
		text string
		want Auth
	}{
		{name: "service account", text: "serviceAccount", want: AuthServiceAccount},
		{name: "kubeconfig", text: "kubeConfig", want: AuthKubeconfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a Auth
			if err := a.UnmarshalText([]byte(tt.text)); err != nil || a != tt.want {
				t.Fatalf("UnmarshalText(%q) = %q, %v", tt.text, a, err)
			}
			if b, err := a.MarshalText(); err != nil || string(b) != tt.text {
				t.Errorf("MarshalText() = %q, %v; want %q", b, err, tt.text)
			}
		})
	}
	var a Auth
	if err := a.UnmarshalText([]byte("ServiceAccount")); err == nil {
		t.Errorf("UnmarshalText accepted a name in the wrong case: %q", a)
	}
}
