package capabilityprofileexporter

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/capprof/capprof/internal/profile"
)

// Config is the exporter's configuration.
type Config struct {
	// Kubeconfig is a kubeconfig file to reach the API server with; empty
	// uses the pod's service account (in-cluster).
	Kubeconfig string `mapstructure:"kubeconfig"`
	// Writer names this exporter's evidence in status.sources. Writers with
	// different names add up; a writer replaces its own evidence. The
	// default, the host name (the gateway's pod name), keeps a replaced
	// gateway pod, whose connector starts over, from overwriting its
	// predecessor's evidence.
	Writer string `mapstructure:"writer"`
	// StableAfter is how long no new capability must appear before the
	// profile's Stable condition turns true.
	StableAfter time.Duration `mapstructure:"stable_after"`

	TimeoutConfig exporterhelper.TimeoutConfig `mapstructure:",squash"`
	// BackOffConfig retries a batch whose writes failed, with back-off.
	BackOffConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the configuration; each error names the field.
func (c *Config) Validate() error {
	var errs []error
	if c.Writer == "" {
		errs = append(errs, errors.New("writer: must not be empty"))
	}
	if c.StableAfter <= 0 {
		errs = append(errs, fmt.Errorf("stable_after: must be positive, got %s", c.StableAfter))
	}
	return errors.Join(errs...)
}

func createDefaultConfig() component.Config {
	return &Config{
		Writer:        profile.DefaultWriter(),
		StableAfter:   time.Hour,
		TimeoutConfig: exporterhelper.NewDefaultTimeoutConfig(),
		BackOffConfig: configretry.NewDefaultBackOffConfig(),
	}
}
