package capabilitiesreceiver

import (
	"os"
	"time"

	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/kube"
	"github.com/capprof/capprof/internal/selection"
	"github.com/capprof/capprof/internal/tracer"
)

// Config is the receiver's configuration. It mirrors `capprof record`'s
// flags and names the fields of the controller's configuration, which
// holds their rules; the typed values decode themselves.
type Config struct {
	// Mode is "stream" (a record per check) or "unique" (a key's first check
	// at once, then counts every flush_interval).
	Mode tracer.Mode `mapstructure:"mode"`
	// FlushInterval is how often unique-mode counts are reported.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// Attach is "auto" or one of tp_btf, raw_tracepoint, tracepoint, fexit, kprobe.
	Attach tracer.Method `mapstructure:"attach"`
	// Verdict keeps "all", "denied" or "granted" checks.
	Verdict tracer.Verdict `mapstructure:"verdict"`
	// Audit is "all", or "audited" to drop the NOAUDIT checks in the kernel
	// (counted in otelcol_receiver_capabilities_noaudit_skipped).
	Audit tracer.Audit `mapstructure:"audit"`
	// Capabilities keeps only these (CAP_SYSLOG, sys_admin, 21); empty keeps all.
	Capabilities []string `mapstructure:"capabilities"`
	// IncludeHost records processes outside containers (in pid 1's mount namespace).
	IncludeHost bool `mapstructure:"include_host"`
	// Cgroups selects cgroup v2 subtrees.
	Cgroups CgroupsConfig `mapstructure:"cgroups"`
	// RingBufferSize is the kernel ring buffer's size in bytes, a power of two.
	RingBufferSize int `mapstructure:"ring_buffer_size"`
	// MaxBatchSize is the most log records in one plog.Logs.
	MaxBatchSize int `mapstructure:"max_batch_size"`
	// MaxBatchDelay is the longest a check waits before it is sent on.
	MaxBatchDelay time.Duration `mapstructure:"max_batch_delay"`
	// Kubernetes adds the metadata of the node's pods to container checks.
	Kubernetes KubernetesConfig `mapstructure:"kubernetes"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// CgroupsConfig lists cgroup v2 paths, relative to the cgroup2 mount
// ("/kubepods") or absolute; at most 8 of each.
type CgroupsConfig struct {
	Include []string `mapstructure:"include"`
	Exclude []string `mapstructure:"exclude"`
}

// KubernetesConfig configures pod metadata from the API server.
type KubernetesConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// AuthType is serviceAccount (in the cluster) or kubeConfig.
	AuthType kube.Auth `mapstructure:"auth_type"`
	// Kubeconfig is the kubeconfig file with auth_type kubeConfig ("":
	// $KUBECONFIG or ~/.kube/config).
	Kubeconfig string `mapstructure:"kubeconfig"`
	// NodeName is the node whose pods are watched; by default the
	// NODE_NAME environment variable (the downward API's spec.nodeName).
	NodeName string `mapstructure:"node_name"`
	// Labels exports pod labels as k8s.pod.label.<key>: all, none, or a
	// list of keys.
	Labels []string `mapstructure:"labels"`
	// MaxWait is how long the checks of a starting pod's container are
	// held for its metadata.
	MaxWait time.Duration `mapstructure:"max_wait"`
	// MaxPending is the most checks held at once.
	MaxPending int `mapstructure:"max_pending"`
	// Recordings narrows the recording to what CapabilityRecordings select.
	Recordings RecordingsConfig `mapstructure:"recordings"`
}

// RecordingsConfig follows the cluster's CapabilityRecordings: while one
// selects pods, only the selected pods' checks are recorded (the others
// dropped in the kernel, counted in
// otelcol_receiver_capabilities_unselected_skipped).
type RecordingsConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Default is what is recorded while no recording selects: all (every
	// check, as without recordings) or selected (nothing).
	Default selection.Default `mapstructure:"default"`
	// StatusInterval is how often this node's part of each recording's
	// status is written.
	StatusInterval time.Duration `mapstructure:"status_interval"`
	// MaxCgroups bounds the kernel's map of selected cgroups (one per
	// selected pod).
	MaxCgroups uint32 `mapstructure:"max_cgroups"`
}

// Validate checks the configuration; each error names the field.
func (c *Config) Validate() error {
	_, err := c.recorderConfig()
	return err
}

func createDefaultConfig() *Config {
	sel := controller.DefaultSelectionConfig()
	return &Config{
		Mode:           tracer.Stream,
		FlushInterval:  10 * time.Second,
		Attach:         tracer.Auto,
		Verdict:        tracer.AllVerdicts,
		Audit:          controller.ShellAudit,
		IncludeHost:    true,
		RingBufferSize: 8 << 20,
		MaxBatchSize:   1000,
		MaxBatchDelay:  time.Second,
		Kubernetes: KubernetesConfig{
			AuthType:   kube.AuthServiceAccount,
			NodeName:   os.Getenv("NODE_NAME"),
			Labels:     []string{"none"},
			MaxWait:    5 * time.Second,
			MaxPending: 10000,
			Recordings: RecordingsConfig{
				Default:        sel.Default,
				StatusInterval: sel.StatusInterval,
				MaxCgroups:     tracer.DefaultConfig().SelectedCgroups,
			},
		},
	}
}
