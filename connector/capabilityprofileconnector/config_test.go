package capabilityprofileconnector

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/capprof/capprof/connector/capabilityprofileconnector/internal/metadata"
	"github.com/capprof/capprof/internal/profile"
)

func TestLoadConfig(t *testing.T) {
	storage := component.MustNewIDWithName("file_storage", "profiles")
	tests := []struct {
		name    string
		id      component.ID
		want    *Config
		wantErr string
	}{
		{name: "defaults", id: component.NewID(metadata.Type), want: &Config{Interval: time.Minute, MaxProfiles: profile.DefaultMaxProfiles, Writer: profile.DefaultWriter()}},
		{name: "custom", id: component.NewIDWithName(metadata.Type, "custom"), want: &Config{Interval: 30 * time.Second, MaxProfiles: 500, Storage: &storage, Writer: "gw-1"}},
		{name: "zero interval", id: component.NewIDWithName(metadata.Type, "zero_interval"), wantErr: "interval: must be positive"},
		{name: "empty writer", id: component.NewIDWithName(metadata.Type, "empty_writer"), wantErr: "writer: must not be empty"},
		{name: "negative max_profiles", id: component.NewIDWithName(metadata.Type, "negative_max"), wantErr: "max_profiles: must be at least 1"},
	}
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}
