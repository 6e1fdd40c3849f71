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

	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/kube"
	"github.com/capprof/capprof/internal/selection"
	"github.com/capprof/capprof/internal/tracer"
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
				Mode:           tracer.Unique,
				FlushInterval:  30 * time.Second,
				Attach:         tracer.TPBTF,
				Verdict:        tracer.Denied,
				Audit:          tracer.Audited,
				Capabilities:   []string{"CAP_SYS_ADMIN", "net_raw", "34"},
				IncludeHost:    false,
				Cgroups:        CgroupsConfig{Include: []string{"/kubepods"}, Exclude: []string{"/kubepods/besteffort"}},
				RingBufferSize: 16 << 20,
				MaxBatchSize:   500,
				MaxBatchDelay:  200 * time.Millisecond,
				Kubernetes: KubernetesConfig{
					Enabled: true, AuthType: kube.AuthKubeconfig, Kubeconfig: "/etc/capprof/kubeconfig", NodeName: "node-7",
					Labels: []string{"app", "tier"}, MaxWait: 2 * time.Second, MaxPending: 500,
					Recordings: RecordingsConfig{Enabled: true, Default: selection.RecordSelected, StatusInterval: 30 * time.Second, MaxCgroups: 1024},
				},
			},
		},
		{
			name: "labels as a scalar",
			id:   component.NewIDWithName(metadata.Type, "all_labels"),
			want: func() *Config {
				c := createDefaultConfig()
				c.Kubernetes.Enabled, c.Kubernetes.NodeName, c.Kubernetes.Labels = true, "node-7", []string{"all"}
				return c
			}(),
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

// TestValidateNamesTheField checks that an error of the controller's rules
// names the field by its YAML key, one row per key; the rules themselves
// are the controller's to test.
func TestValidateNamesTheField(t *testing.T) {
	for _, tt := range []struct {
		name   string
		modify func(*Config)
		key    string
	}{
		{"mode", func(c *Config) { c.Mode = 9 }, "mode"},
		{"attach", func(c *Config) { c.Attach = "uprobe" }, "attach"},
		{"verdict", func(c *Config) { c.Verdict = 9 }, "verdict"},
		{"audit", func(c *Config) { c.Audit = "noaudit" }, "audit"},
		{"capabilities", func(c *Config) { c.Capabilities = []string{" "} }, "capabilities"},
		{"flush interval", func(c *Config) { c.FlushInterval = 0 }, "flush_interval"},
		{"ring buffer", func(c *Config) { c.RingBufferSize = 5000 }, "ring_buffer_size"},
		{"batch size", func(c *Config) { c.MaxBatchSize = 0 }, "max_batch_size"},
		{"batch delay", func(c *Config) { c.MaxBatchDelay = -time.Millisecond }, "max_batch_delay"},
		{"cgroups included", func(c *Config) { c.Cgroups.Include = make([]string, 9) }, "cgroups.include"},
		{"cgroups excluded", func(c *Config) { c.Cgroups.Exclude = make([]string, 9) }, "cgroups.exclude"},
		{"auth type", func(c *Config) { kubernetesOn(c); c.Kubernetes.AuthType = "token" }, "kubernetes.auth_type"},
		{"kubeconfig", func(c *Config) { kubernetesOn(c); c.Kubernetes.Kubeconfig = "/k" }, "kubernetes.kubeconfig"},
		{"node name", func(c *Config) { kubernetesOn(c); c.Kubernetes.NodeName = "" }, "kubernetes.node_name"},
		{"labels", func(c *Config) { kubernetesOn(c); c.Kubernetes.Labels = []string{"all", "app"} }, "kubernetes.labels"},
		{"max wait", func(c *Config) { kubernetesOn(c); c.Kubernetes.MaxWait = 0 }, "kubernetes.max_wait"},
		{"max pending", func(c *Config) { kubernetesOn(c); c.Kubernetes.MaxPending = -1 }, "kubernetes.max_pending"},
		{"recordings status interval", func(c *Config) { recordingsOn(c); c.Kubernetes.Recordings.StatusInterval = 0 }, "kubernetes.recordings.status_interval"},
		{"recordings max cgroups", func(c *Config) { recordingsOn(c); c.Kubernetes.Recordings.MaxCgroups = 0 }, "kubernetes.recordings.max_cgroups"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig()
			tt.modify(cfg)
			err := confmap.Validate(cfg)
			require.Error(t, err)
			require.True(t, strings.HasPrefix(err.Error(), tt.key+": "), "error %q does not start with %s", err, tt.key)
		})
	}
}

// TestUnmarshalNamesTheKey checks that the typed settings decode
// themselves from YAML, and confmap names the key of one that does not.
func TestUnmarshalNamesTheKey(t *testing.T) {
	for _, tt := range []struct {
		name string
		conf map[string]any
		want string
	}{
		{"mode", map[string]any{"mode": "batch"}, `'mode' "batch" is not stream or unique`},
		{"attach", map[string]any{"attach": "uprobe"}, `'attach' "uprobe" is not auto, tp_btf, raw_tracepoint, tracepoint, fexit or kprobe`},
		{"verdict", map[string]any{"verdict": "deny"}, `'verdict' "deny" is not all, denied or granted`},
		{"auth type", map[string]any{"kubernetes": map[string]any{"auth_type": "token"}}, `'kubernetes.auth_type' "token" is not serviceAccount or kubeConfig`},
		{"recordings default", map[string]any{"kubernetes": map[string]any{"recordings": map[string]any{"default": "none"}}},
			`'kubernetes.recordings.default' "none" is not all or selected`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := confmap.NewFromStringMap(tt.conf).Unmarshal(createDefaultConfig())
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func kubernetesOn(c *Config) {
	c.Kubernetes.Enabled = true
	c.Kubernetes.NodeName = "node-1"
}

func recordingsOn(c *Config) {
	kubernetesOn(c)
	c.Kubernetes.Recordings.Enabled = true
}

func TestRecordingsReachTheController(t *testing.T) {
	cfg := createDefaultConfig()
	rc, err := cfg.recorderConfig()
	require.NoError(t, err)
	require.Nil(t, rc.Selection, "recordings are off by default (they need the agent's recording RBAC)")

	recordingsOn(cfg)
	cfg.Kubernetes.Recordings.MaxCgroups = 1024
	rc, err = cfg.recorderConfig()
	require.NoError(t, err)
	require.NotNil(t, rc.Selection)
	require.Equal(t, controller.SelectionConfig{Default: selection.RecordAll, Recordings: true, StatusInterval: 10 * time.Second}, *rc.Selection)
	require.Equal(t, uint32(1024), rc.Tracer.SelectedCgroups)
}

func TestKubernetesDisabledIsNotChecked(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Kubernetes.AuthType = "bogus"
	require.NoError(t, confmap.Validate(cfg))
	rc, err := cfg.recorderConfig()
	require.NoError(t, err)
	require.Nil(t, rc.Kubernetes)
}

func TestKubernetesBlockReachesTheController(t *testing.T) {
	cfg := createDefaultConfig()
	kubernetesOn(cfg)
	cfg.Kubernetes.AuthType, cfg.Kubernetes.Kubeconfig = kube.AuthKubeconfig, "/k"
	cfg.Kubernetes.Labels = []string{"app", "tier"}
	rc, err := cfg.recorderConfig()
	require.NoError(t, err)
	require.NotNil(t, rc.Kubernetes)
	w := rc.Kubernetes.Watch
	require.Equal(t, "node-1", w.NodeName)
	require.Equal(t, "/k", w.Kubeconfig)
	require.Equal(t, "app,tier", w.Labels.String())
	require.Equal(t, 5*time.Second, rc.Kubernetes.MaxWait)
	require.Equal(t, 10000, rc.Kubernetes.MaxPending)
	require.Equal(t, "node-1", rc.HostName, "host.name is the node, not the agent pod's hostname")
}

func TestUnknownAuditFailsWhenUnmarshaled(t *testing.T) {
	cfg := createDefaultConfig()
	err := confmap.NewFromStringMap(map[string]any{"audit": "noaudit"}).Unmarshal(cfg)
	require.ErrorContains(t, err, `'audit' "noaudit" is not all or audited`)
}
