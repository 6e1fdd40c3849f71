package capabilitiesreceiver

import (
	"errors"
	"fmt"
	"strings"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/kube"
	"github.com/capprof/capprof/internal/tracer"
)

// recorderConfig turns the configuration into the controller's, checking
// each field; errors name the field as it is written in the YAML.
func (c *Config) recorderConfig() (controller.Config, error) {
	cfg := controller.DefaultConfig()
	t := &cfg.Tracer
	var err error
	if t.Mode, err = tracer.ParseMode(c.Mode); err != nil {
		return cfg, fmt.Errorf("mode: %w", err)
	}
	if t.Method, err = tracer.ParseMethod(c.Attach); err != nil {
		return cfg, fmt.Errorf("attach: %w", err)
	}
	if t.Verdict, err = tracer.ParseVerdict(c.Verdict); err != nil {
		return cfg, fmt.Errorf("verdict: %w", err)
	}
	if len(c.Capabilities) > 0 {
		if t.Caps, err = caps.ParseSet(strings.Join(c.Capabilities, ",")); err != nil {
			return cfg, fmt.Errorf("capabilities: %w", err)
		}
		if t.Caps == 0 {
			return cfg, errors.New("capabilities: the list names no capability")
		}
	}
	if c.FlushInterval <= 0 {
		return cfg, fmt.Errorf("flush_interval: must be positive, got %s", c.FlushInterval)
	}
	if n := c.RingBufferSize; n < 4096 || n > 1<<30 || n&(n-1) != 0 {
		return cfg, fmt.Errorf("ring_buffer_size: %d is not a power of two between 4096 and 1 GiB", n)
	}
	if c.MaxBatchSize <= 0 {
		return cfg, fmt.Errorf("max_batch_size: must be positive, got %d", c.MaxBatchSize)
	}
	if c.MaxBatchDelay <= 0 {
		return cfg, fmt.Errorf("max_batch_delay: must be positive, got %s", c.MaxBatchDelay)
	}
	if len(c.Cgroups.Include) > tracer.MaxCgroupFilters || len(c.Cgroups.Exclude) > tracer.MaxCgroupFilters {
		return cfg, fmt.Errorf("cgroups: at most %d include and %d exclude paths", tracer.MaxCgroupFilters, tracer.MaxCgroupFilters)
	}
	t.Audit = c.Audit
	t.IncludeHost = c.IncludeHost
	t.RingBufferSize = uint32(c.RingBufferSize)
	cfg.FlushInterval = c.FlushInterval
	cfg.MaxBatch = c.MaxBatchSize
	cfg.MaxBatchDelay = c.MaxBatchDelay
	cfg.CgroupInclude = c.Cgroups.Include
	cfg.CgroupExclude = c.Cgroups.Exclude
	if cfg.Kubernetes, err = c.Kubernetes.controllerConfig(); err != nil {
		return cfg, err
	}
	if cfg.Kubernetes != nil {
		// In a pod the agent's own host name is its UTS namespace's: the
		// pod's name (or, under some runtimes, whatever the node's was
		// copied into it). The node the checks come from is the one the
		// downward API names, and profiles list their hosts by host.name.
		cfg.HostName = c.Kubernetes.NodeName
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// kubernetesKeys names the controller's Kubernetes fields as the YAML does.
var kubernetesKeys = map[string]string{
	"Auth":       "kubernetes.auth_type",
	"Kubeconfig": "kubernetes.kubeconfig",
	"NodeName":   "kubernetes.node_name",
	"MaxWait":    "kubernetes.max_wait",
	"MaxPending": "kubernetes.max_pending",
}

// controllerConfig turns the kubernetes block into the controller's; nil
// when disabled (the other fields are then not checked). The controller
// checks the fields; errors name them by their YAML keys.
func (k *KubernetesConfig) controllerConfig() (*controller.KubernetesConfig, error) {
	if !k.Enabled {
		return nil, nil
	}
	cfg := controller.DefaultKubernetesConfig(k.NodeName)
	var err error
	if cfg.Watch.Labels, err = kube.ParseLabels(strings.Join(k.Labels, ",")); err != nil {
		return nil, fmt.Errorf("kubernetes.labels: %w", err)
	}
	cfg.Watch.Auth, cfg.Watch.Kubeconfig = kube.Auth(k.AuthType), k.Kubeconfig
	cfg.MaxWait, cfg.MaxPending = k.MaxWait, k.MaxPending
	if err := cfg.Validate(); err != nil {
		return nil, kube.RenameField(fmt.Errorf("kubernetes: %w", err), kubernetesKeys)
	}
	return &cfg, nil
}
