package capabilitiesreceiver

import (
	"fmt"
	"strings"

	"github.com/capprof/capprof/internal/config"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/kube"
)

// yamlKeys names the controller's fields as the YAML does.
var yamlKeys = map[string]string{
	"FlushInterval":   "flush_interval",
	"MaxBatch":        "max_batch_size",
	"MaxBatchDelay":   "max_batch_delay",
	"CgroupInclude":   "cgroups.include",
	"CgroupExclude":   "cgroups.exclude",
	"Method":          "attach",
	"Mode":            "mode",
	"Verdict":         "verdict",
	"Audit":           "audit",
	"RingBufferSize":  "ring_buffer_size",
	"Auth":            "kubernetes.auth_type",
	"Kubeconfig":      "kubernetes.kubeconfig",
	"NodeName":        "kubernetes.node_name",
	"MaxWait":         "kubernetes.max_wait",
	"MaxPending":      "kubernetes.max_pending",
	"Default":         "kubernetes.recordings.default",
	"StatusInterval":  "kubernetes.recordings.status_interval",
	"SelectedCgroups": "kubernetes.recordings.max_cgroups",
}

// recorderConfig turns the configuration into the controller's, which
// checks it; errors name the field as it is written in the YAML. The
// kubernetes block is not checked when it is disabled.
func (c *Config) recorderConfig() (controller.Config, error) {
	cfg := controller.DefaultConfig()
	t := &cfg.Tracer
	t.Mode, t.Method, t.Verdict, t.Audit = c.Mode, c.Attach, c.Verdict, c.Audit
	if len(c.Capabilities) > 0 {
		if err := t.Caps.UnmarshalText([]byte(strings.Join(c.Capabilities, ","))); err != nil {
			return cfg, fmt.Errorf("capabilities: %w", err)
		}
	}
	t.IncludeHost = c.IncludeHost
	t.RingBufferSize = c.RingBufferSize
	cfg.FlushInterval = c.FlushInterval
	cfg.MaxBatch = c.MaxBatchSize
	cfg.MaxBatchDelay = c.MaxBatchDelay
	cfg.CgroupInclude = c.Cgroups.Include
	cfg.CgroupExclude = c.Cgroups.Exclude
	if k := c.Kubernetes; k.Enabled {
		kc := controller.DefaultKubernetesConfig(k.NodeName)
		var err error
		if kc.Watch.Labels, err = kube.ParseLabels(strings.Join(k.Labels, ",")); err != nil {
			return cfg, fmt.Errorf("kubernetes.labels: %w", err)
		}
		kc.Watch.Auth, kc.Watch.Kubeconfig = k.AuthType, k.Kubeconfig
		kc.MaxWait, kc.MaxPending = k.MaxWait, k.MaxPending
		cfg.Kubernetes = &kc
		// In a pod the agent's own host name is its UTS namespace's: the
		// pod's name (or, under some runtimes, whatever the node's was
		// copied into it). The node the checks come from is the one the
		// downward API names, and profiles list their hosts by host.name.
		cfg.HostName = k.NodeName
		if r := k.Recordings; r.Enabled {
			cfg.Selection = &controller.SelectionConfig{Default: r.Default, Recordings: true, StatusInterval: r.StatusInterval}
			t.SelectedCgroups = r.MaxCgroups
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, config.RenameField(err, yamlKeys)
	}
	return cfg, nil
}
