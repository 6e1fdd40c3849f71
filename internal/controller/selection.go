package controller

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/client-go/dynamic"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/config"
	"github.com/capprof/capprof/internal/kube"
	"github.com/capprof/capprof/internal/recording"
	"github.com/capprof/capprof/internal/selection"
)

// selectionResyncInterval is how often the selection looks again for the
// cgroups of selected pods that have none yet, and how often recordings
// are looked at again.
const selectionResyncInterval = time.Second

// SelectionConfig narrows the recording, live and in the kernel, to the
// pods that rules select on this node (internal/selection).
type SelectionConfig struct {
	// Default is what is recorded while no rule selects: everything (the
	// behaviour without recordings) or nothing.
	Default selection.Default
	// Rules are fixed rules: `capprof record --namespace`.
	Rules []selection.Rule
	// Recordings follows the cluster's CapabilityRecording objects, and
	// writes this node's part of their status every StatusInterval.
	Recordings     bool
	StatusInterval time.Duration
}

// DefaultSelectionConfig follows CapabilityRecordings and records
// everything while none selects.
func DefaultSelectionConfig() SelectionConfig {
	return SelectionConfig{Default: selection.RecordAll, Recordings: true, StatusInterval: 10 * time.Second}
}

// Validate reports the first invalid field.
func (c *SelectionConfig) Validate() error {
	if err := c.Default.Validate(); err != nil {
		return &config.FieldError{Field: "Default", Err: err}
	}
	if c.Recordings {
		if err := positive(c.StatusInterval); err != nil {
			return &config.FieldError{Field: "StatusInterval", Err: err}
		}
	}
	for _, r := range c.Rules {
		if r.Namespace == "" {
			return &config.FieldError{Field: "Rules", Err: fmt.Errorf("rule %s: a namespace is required", r)}
		}
	}
	return nil
}

// startsActive reports whether the kernel's selection must be on from the
// first check: nothing outside the fixed rules, or nothing at all, may be
// recorded before the first sync.
func (c *SelectionConfig) startsActive() bool {
	return len(c.Rules) > 0 || c.Default == selection.RecordSelected
}

// selector is a recording's live selection and what feeds it.
type selector struct {
	sel        *selection.Selection
	recordings *recording.Watcher
}

func newSelector(cfg *Config, tr selection.Kernel, meta podMetadata, cgroupRoot string, log *slog.Logger) (*selector, error) {
	sc := cfg.Selection
	sel, err := selection.New(tr, cgroupRoot, sc.Default, log)
	if err != nil {
		return nil, err
	}
	if len(sc.Rules) > 0 {
		if err := sel.SetRules("capprof record", sc.Rules); err != nil {
			return nil, err
		}
	}
	s := &selector{sel: sel}
	if sc.Recordings {
		rc, err := cfg.Kubernetes.Watch.RESTConfig()
		if err != nil {
			return nil, fmt.Errorf("capabilityrecordings: %w", err)
		}
		client, err := dynamic.NewForConfig(rc)
		if err != nil {
			return nil, fmt.Errorf("capabilityrecordings client: %w", err)
		}
		s.recordings = recording.New(recording.Config{
			Client: client, Selection: sel, Resync: cfg.Kubernetes.Watch.Resync,
			Node: cfg.Kubernetes.Watch.NodeName, StatusInterval: sc.StatusInterval,
			Metadata: func(podUID string) *check.Kubernetes {
				m, match := meta.Lookup("", podUID)
				if match == kube.MatchNone {
					return nil
				}
				return m
			},
			Logger: log,
		})
	}
	return s, nil
}

// run follows recordings and looks for missing cgroups until ctx is done.
func (s *selector) run(ctx context.Context, log *slog.Logger) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if s.recordings != nil {
			s.recordings.Run(ctx)
		}
	}()
	t := time.NewTicker(selectionResyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			return
		case <-t.C:
			if !s.sel.Unresolved() {
				continue
			}
			if err := s.sel.Sync(); err != nil {
				log.Warn("cgroup selection", "error", err)
			}
		}
	}
}
