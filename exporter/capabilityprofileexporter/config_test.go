package capabilityprofileexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/capprof/capprof/exporter/capabilityprofileexporter/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	def := createDefaultConfig().(*Config)
	require.NotEmpty(t, def.Writer)
	require.Equal(t, time.Hour, def.StableAfter)

	custom := createDefaultConfig().(*Config)
	custom.Kubeconfig = "/etc/capprof/kubeconfig"
	custom.Writer = "gateway-0"
	custom.StableAfter = 30 * time.Minute
	custom.TimeoutConfig.Timeout = 10 * time.Second
	custom.BackOffConfig.MaxElapsedTime = 2 * time.Minute

	for _, tt := range []struct {
		name string
		id   component.ID
		want *Config
	}{
		{name: "defaults", id: component.NewID(metadata.Type), want: def},
		{name: "custom", id: component.NewIDWithName(metadata.Type, "custom"), want: custom},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			require.NoError(t, confmap.Validate(cfg))
			require.Equal(t, tt.want, cfg)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name    string
		modify  func(*Config)
		wantErr string
	}{
		{name: "empty writer", modify: func(c *Config) { c.Writer = "" }, wantErr: "writer: must not be empty"},
		{name: "zero stable_after", modify: func(c *Config) { c.StableAfter = 0 }, wantErr: "stable_after: must be positive"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			tt.modify(cfg)
			require.ErrorContains(t, cfg.Validate(), tt.wantErr)
		})
	}
}
