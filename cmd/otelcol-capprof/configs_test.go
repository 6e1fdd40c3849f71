package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/otelcol"
)

// validate runs `otelcol-capprof <args...>` in-process, as main does: the
// distribution's own components() and config providers, otelcol's command
// and its DryRun, which builds every pipeline without starting it.
func validate(t *testing.T, args ...string) error {
	t.Helper()
	cmd := otelcol.NewCommand(settings())
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(withDefaultConfig(append([]string{"validate"}, args...)))
	err := cmd.Execute()
	t.Logf("output: %s", out.String())
	return err
}

// skipOffLinux: off Linux the capabilities receiver's stub refuses to be
// created, so no pipeline using it builds.
func skipOffLinux(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("the capabilities receiver only builds pipelines on linux, not %s", runtime.GOOS)
	}
}

// pointAtTemp sends the configs' output paths and endpoints somewhere
// harmless; validation opens nothing, but a mistake should not write into
// the repository.
func pointAtTemp(t *testing.T) {
	t.Helper()
	t.Setenv("CAPPROF_DATA_FILE", filepath.Join(t.TempDir(), "checks.jsonl"))
	t.Setenv("OTLP_ENDPOINT", "127.0.0.1:1")
}

func TestConfigsValidate(t *testing.T) {
	skipOffLinux(t)
	pointAtTemp(t)

	examples, err := filepath.Glob("../../otelcol-config/examples/*.yaml")
	require.NoError(t, err)
	require.Len(t, examples, 4, "every example must be validated here")
	files := append([]string{"../../otelcol-config/local.yaml"}, examples...)

	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			assert.NoError(t, validate(t, "--config=file:"+f))
			// Without a scheme, as users type it: otelcol's default is env,
			// so a bare path must still work through the file provider.
			assert.NoError(t, validate(t, "--config="+f))
		})
	}
}

func TestEmbeddedDefault(t *testing.T) {
	skipOffLinux(t)
	pointAtTemp(t)

	onDisk, err := os.ReadFile("../../otelcol-config/local.yaml")
	require.NoError(t, err)
	require.Equal(t, string(onDisk), defaultConfigURI[len("yaml:"):])
	require.Greater(t, strings.Count(defaultConfigURI, "\n"), 10, "the multi-line document is what is tested")

	tests := []struct {
		name string
		args []string
	}{
		// No --config: otelcol uses the settings' URIs, the multi-line
		// "yaml:" document.
		{name: "no flags", args: nil},
		// --set alone layers on the embedded default.
		{name: "set only", args: []string{"--set=receivers.capabilities.verdict=denied"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.NoError(t, validate(t, tt.args...))
		})
	}
}

func TestBadConfigsFail(t *testing.T) {
	skipOffLinux(t)
	pointAtTemp(t)

	// A typed value fails as it is decoded, a rule as the configuration
	// is validated; either way the receiver and the key are named.
	tests := []struct {
		name string
		set  string
		want []string
	}{
		{name: "bogus mode", set: "receivers.capabilities.mode=bogus",
			want: []string{`error reading configuration for "capabilities"`, `'mode' "bogus" is not stream or unique`}},
		{name: "negative flush interval", set: "receivers.capabilities.flush_interval=-1s",
			want: []string{"receivers::capabilities", "flush_interval: must be positive, got -1s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validate(t, "--config=file:../../otelcol-config/local.yaml", "--set="+tt.set)
			require.Error(t, err)
			for _, want := range tt.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestWithDefaultConfig(t *testing.T) {
	def := "--config=" + defaultConfigURI
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "no args", args: nil, want: nil},
		{name: "config only", args: []string{"--config=a.yaml"}, want: []string{"--config=a.yaml"}},
		{name: "config and set", args: []string{"--config", "a.yaml", "--set=x=1"}, want: []string{"--config", "a.yaml", "--set=x=1"}},
		{name: "set only", args: []string{"--set=x=1"}, want: []string{def, "--set=x=1"}},
		{name: "set with separate value", args: []string{"validate", "--set", "x=1"}, want: []string{def, "validate", "--set", "x=1"}},
		{name: "set after double dash", args: []string{"--", "--set=x=1"}, want: []string{"--", "--set=x=1"}},
		{name: "other subcommand", args: []string{"components"}, want: []string{"components"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, withDefaultConfig(tt.args))
		})
	}
}

// gatewayConfig is the gateway's configuration in deploy/ (kustomize puts it
// in the gateway's ConfigMap).
const gatewayConfig = "../../deploy/base/gateway-config.yaml"

// TestGatewayConfigValidates validates the gateway configuration with its
// defaults and with each exporter choice its environment offers.
func TestGatewayConfigValidates(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{name: "defaults"},
		{name: "profiles over OTLP", env: map[string]string{"PROFILE_EXPORTERS": "[debug, otlp_grpc/profiles]", "PROFILE_EXPORT_ENDPOINT": "127.0.0.1:1"}},
		{name: "everything to files", env: map[string]string{"PROFILE_EXPORTERS": "[file/profiles]", "CHECK_EXPORTERS": "[file/checks]"}},
		{name: "checks over OTLP", env: map[string]string{"CHECK_EXPORTERS": "[otlp_grpc/checks]", "CHECK_EXPORT_ENDPOINT": "127.0.0.1:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("PROFILE_STORAGE_DIR", filepath.Join(dir, "profiles"))
			t.Setenv("PROFILE_EXPORT_FILE", filepath.Join(dir, "profiles.jsonl"))
			t.Setenv("CHECK_EXPORT_FILE", filepath.Join(dir, "checks.jsonl"))
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			assert.NoError(t, validate(t, "--config=file:"+gatewayConfig))
		})
	}
}

func TestBadGatewayConfigsFail(t *testing.T) {
	tests := []struct {
		name, env, value, want string
	}{
		{name: "zero interval", env: "PROFILE_INTERVAL", value: "0s", want: "connectors::capability_profile: interval:"},
		{name: "no profiles kept", env: "PROFILE_MAX", value: "0", want: "connectors::capability_profile: max_profiles:"},
		{name: "unknown exporter", env: "PROFILE_EXPORTERS", value: "[bogus]", want: `references exporter "bogus"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PROFILE_STORAGE_DIR", t.TempDir())
			t.Setenv(tt.env, tt.value)
			err := validate(t, "--config=file:"+gatewayConfig)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestAgentConfigValidates validates the agent's configuration in deploy/
// (the DaemonSet's ConfigMap) with the environment the DaemonSet gives it.
func TestAgentConfigValidates(t *testing.T) {
	skipOffLinux(t)
	t.Setenv("NODE_NAME", "node-1")
	t.Setenv("POD_IP", "127.0.0.1")
	t.Setenv("CAPPROF_GATEWAY_ENDPOINT", "127.0.0.1:1")
	assert.NoError(t, validate(t, "--config=file:../../deploy/base/agent-config.yaml"))
}
