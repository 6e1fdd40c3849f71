package capabilitiesreceiver

import (
	"time"
)

// Config is the receiver's configuration. It mirrors `capprof record`'s flags.
type Config struct {
	// Mode is "stream" (a record per check) or "unique" (a key's first check
	// at once, then counts every flush_interval).
	Mode string `mapstructure:"mode"`
	// FlushInterval is how often unique-mode counts are reported.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// Attach is "auto" or one of tp_btf, raw_tracepoint, tracepoint, fexit, kprobe.
	Attach string `mapstructure:"attach"`
	// Verdict keeps "all", "denied" or "granted" checks.
	Verdict string `mapstructure:"verdict"`
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

	// prevent unkeyed literal initialization
	_ struct{}
}

// CgroupsConfig lists cgroup v2 paths, relative to the cgroup2 mount
// ("/kubepods") or absolute; at most 8 of each.
type CgroupsConfig struct {
	Include []string `mapstructure:"include"`
	Exclude []string `mapstructure:"exclude"`
}

// Validate checks the configuration; each error names the field.
func (c *Config) Validate() error {
	_, err := c.recorderConfig()
	return err
}

func createDefaultConfig() *Config {
	return &Config{
		Mode:           "stream",
		FlushInterval:  10 * time.Second,
		Attach:         "auto",
		Verdict:        "all",
		IncludeHost:    true,
		RingBufferSize: 8 << 20,
		MaxBatchSize:   1000,
		MaxBatchDelay:  time.Second,
	}
}
