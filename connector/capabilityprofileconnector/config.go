package capabilityprofileconnector

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/capprof/capprof/internal/profile"
)

// Config is the connector's configuration.
type Config struct {
	// Interval is how often the profiles that changed are emitted (and, with
	// Storage, persisted).
	Interval time.Duration `mapstructure:"interval"`
	// MaxProfiles bounds the profiles kept in memory; beyond it the least
	// recently updated one is evicted (and counted).
	MaxProfiles int `mapstructure:"max_profiles"`
	// Storage names a storage extension (file_storage) in which the profiles
	// are kept across restarts; nil keeps them in memory only.
	Storage *component.ID `mapstructure:"storage"`
	// Writer names this connector's profiles on its records
	// (linux.capability.profile.writer): each gateway replica holds part
	// of the checks, and readers add up every writer's latest profile.
	// The default, the host name, is a StatefulSet pod's stable name.
	Writer string `mapstructure:"writer"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the configuration; each error names the field.
func (c *Config) Validate() error {
	var errs []error
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("interval: must be positive, got %s", c.Interval))
	}
	if c.MaxProfiles < 1 {
		errs = append(errs, fmt.Errorf("max_profiles: must be at least 1, got %d", c.MaxProfiles))
	}
	if c.Writer == "" {
		errs = append(errs, errors.New("writer: must not be empty"))
	}
	return errors.Join(errs...)
}

func createDefaultConfig() component.Config {
	return &Config{
		Interval:    time.Minute,
		MaxProfiles: profile.DefaultMaxProfiles,
		Writer:      profile.DefaultWriter(),
	}
}
