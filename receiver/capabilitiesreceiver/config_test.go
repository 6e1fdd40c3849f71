//go:build linux

package capabilitiesreceiver

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/capprof/capprof/receiver/capabilitiesreceiver/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	for _, tt := range []struct {
		name string
		id   component.ID
		want *Config
	}{
		{name: "defaults", id: component.NewID(metadata.Type), want: createDefaultConfig()},
		{
			name: "every field",
			id:   component.NewIDWithName(metadata.Type, "custom"),
			want: &Config{
				Mode:           "unique",
				FlushInterval:  30 * time.Second,
				Attach:         "tp_btf",
				Verdict:        "denied",
				Capabilities:   []string{"CAP_SYS_ADMIN", "net_raw", "34"},
				IncludeHost:    false,
				Cgroups:        CgroupsConfig{Include: []string{"/kubepods"}, Exclude: []string{"/kubepods/besteffort"}},
				RingBufferSize: 16 << 20,
				MaxBatchSize:   500,
				MaxBatchDelay:  200 * time.Millisecond,
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			require.NoError(t, confmap.Validate(cfg))
			require.Equal(t, tt.want, cfg)
		})
	}
}

func TestValidateNamesTheField(t *testing.T) {
	for _, tt := range []struct {
		name   string
		modify func(*Config)
		field  string
	}{
		{"unknown mode", func(c *Config) { c.Mode = "bogus" }, "mode:"},
		{"unknown attach", func(c *Config) { c.Attach = "uprobe" }, "attach:"},
		{"unknown verdict", func(c *Config) { c.Verdict = "maybe" }, "verdict:"},
		{"unknown capability", func(c *Config) { c.Capabilities = []string{"CAP_BOGUS"} }, "capabilities:"},
		{"empty capability list", func(c *Config) { c.Capabilities = []string{" "} }, "capabilities:"},
		{"negative flush interval", func(c *Config) { c.FlushInterval = -time.Second }, "flush_interval:"},
		{"zero flush interval", func(c *Config) { c.FlushInterval = 0 }, "flush_interval:"},
		{"ring buffer not a power of two", func(c *Config) { c.RingBufferSize = 5000 }, "ring_buffer_size:"},
		{"ring buffer too small", func(c *Config) { c.RingBufferSize = 1024 }, "ring_buffer_size:"},
		{"no batch", func(c *Config) { c.MaxBatchSize = 0 }, "max_batch_size:"},
		{"negative batch delay", func(c *Config) { c.MaxBatchDelay = -time.Millisecond }, "max_batch_delay:"},
		{"too many cgroups", func(c *Config) { c.Cgroups.Include = make([]string, 9) }, "cgroups:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig()
			tt.modify(cfg)
			err := confmap.Validate(cfg)
			require.Error(t, err)
			require.True(t, strings.Contains(err.Error(), tt.field), "error %q does not name %s", err, tt.field)
		})
	}
}
