package capabilityprofileconnector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/capprof/capprof/connector/capabilityprofileconnector/internal/metadata"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/profile"
)

// storageKey is the key of the profiles' JSON snapshot in the storage
// extension's client of this connector.
const storageKey = "profiles"

// unemittedKey is the key, written in one batch with storageKey, of the
// JSON list of the ids of snapshot profiles that changed but whose
// emission the next consumer refused: a restarted connector marks them
// changed, so the changes are emitted rather than lost until the next one.
// A snapshot without it (older versions) has none.
const unemittedKey = "profiles_unemitted"

// attrEventName is the deprecated attribute form of a record's event name,
// which pipelines older than LogRecord.EventName set instead.
const attrEventName = "event.name"

type profileConnector struct {
	cfg       *Config
	set       connector.Settings
	next      consumer.Logs
	telemetry *metadata.TelemetryBuilder

	mu          sync.Mutex // guards builder and evictedSeen
	builder     *profile.Builder
	evictedSeen uint64         // Evicted() when last logged
	flushMu     sync.Mutex     // one flush at a time: the ticker's and Shutdown's
	client      storage.Client // set by Start when storage is configured
	lifecycleMu sync.Mutex     // guards cancel and done across Start and Shutdown
	cancel      context.CancelFunc
	done        chan struct{}
}

func newConnector(set connector.Settings, cfg *Config, next consumer.Logs) (*profileConnector, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	c := &profileConnector{
		cfg:       cfg,
		set:       set,
		next:      next,
		telemetry: tb,
		builder:   profile.NewBuilder(profile.WithMaxProfiles(cfg.MaxProfiles)),
	}
	if err := c.registerMetrics(); err != nil {
		tb.Shutdown()
		return nil, err
	}
	return c, nil
}

func (c *profileConnector) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// Start restores the profiles from the storage extension, if one is
// configured, and starts emitting the changed ones every interval. A missing
// or wrong extension is an error; an unreadable snapshot is logged, counted
// and skipped, so that a damaged file does not keep the collector down.
func (c *profileConnector) Start(ctx context.Context, host component.Host) error {
	if c.cfg.Storage != nil {
		client, err := storageClient(ctx, host, *c.cfg.Storage, c.set.ID)
		if err != nil {
			return err
		}
		c.client = client
		c.restore(ctx)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	c.lifecycleMu.Lock()
	c.cancel, c.done = cancel, make(chan struct{})
	c.lifecycleMu.Unlock()
	go c.run(runCtx)
	return nil
}

func storageClient(ctx context.Context, host component.Host, ext, self component.ID) (storage.Client, error) {
	e, ok := host.GetExtensions()[ext]
	if !ok {
		return nil, fmt.Errorf("storage: extension %s is not configured", ext)
	}
	se, ok := e.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("storage: extension %s is not a storage extension", ext)
	}
	client, err := se.GetClient(ctx, component.KindConnector, self, "")
	if err != nil {
		return nil, fmt.Errorf("storage: client of extension %s: %w", ext, err)
	}
	return client, nil
}

func (c *profileConnector) restore(ctx context.Context) {
	get, getUnemitted := storage.GetOperation(storageKey), storage.GetOperation(unemittedKey)
	err := c.client.Batch(ctx, get, getUnemitted)
	if err == nil && get.Value == nil {
		return // nothing stored yet
	}
	var profiles []profile.Profile
	var unemitted []string
	if err == nil {
		profiles, err = profile.ReadJSON(bytes.NewReader(get.Value))
	}
	if err == nil && getUnemitted.Value != nil {
		if err = json.Unmarshal(getUnemitted.Value, &unemitted); err != nil {
			err = fmt.Errorf("decode %s: %w", unemittedKey, err)
		}
	}
	if err != nil {
		c.telemetry.ConnectorCapabilityProfileStorageErrors.Add(ctx, 1)
		c.set.Logger.Error("cannot restore profiles from storage; starting empty", zap.Stringer("storage", c.cfg.Storage), zap.Error(err))
		return
	}
	var pending []profile.Key
	for i := range profiles {
		if slices.Contains(unemitted, profiles[i].ID) {
			pending = append(pending, profiles[i].Key)
		}
	}
	c.mu.Lock()
	c.builder.Restore(profiles...)
	c.builder.MarkChanged(pending...)
	n := c.builder.Len()
	c.mu.Unlock()
	c.set.Logger.Info("restored capability profiles from storage", zap.Int("profiles", n),
		zap.Int("unemitted", len(pending)), zap.Stringer("storage", c.cfg.Storage))
}

func (c *profileConnector) run(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.flush(ctx)
		}
	}
}

// Shutdown stops the ticker, emits the profiles that changed since the last
// emission and persists them. Safe without Start and twice.
//
// If ctx ends while the ticker's flush is still running, Shutdown releases
// the telemetry and returns ctx's error, but leaves the storage client open:
// that flush may still be writing its snapshot through it, and closing it
// under the write would lose the snapshot (and race on the client). A later
// Shutdown waits for the loop again, then flushes and closes the client.
func (c *profileConnector) Shutdown(ctx context.Context) error {
	c.lifecycleMu.Lock()
	cancel, done := c.cancel, c.done
	c.lifecycleMu.Unlock()
	var errs []error
	if cancel != nil {
		cancel()
		select {
		case <-done:
		case <-ctx.Done():
			c.telemetry.Shutdown()
			return fmt.Errorf("wait for the emission loop: %w", ctx.Err())
		}
		c.lifecycleMu.Lock()
		c.cancel = nil
		c.lifecycleMu.Unlock()
		c.flush(ctx)
	}
	if c.client != nil {
		if err := c.client.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("storage: close client: %w", err))
		}
		c.client = nil
	}
	c.telemetry.Shutdown()
	return errors.Join(errs...)
}

// ConsumeLogs adds every linux.capability.check record to its profile and
// counts the other records as ignored. It never fails: a record it cannot
// use is no reason to refuse the others.
func (c *profileConnector) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	var obs []profile.Observation
	var ignored int64
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		var resource profile.Resource // decoded once, if a check is there
		decoded := false
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			records := rl.ScopeLogs().At(j).LogRecords()
			for k := 0; k < records.Len(); k++ {
				lr := records.At(k)
				if !isCheck(lr) {
					ignored++
					continue
				}
				if !decoded {
					resource, decoded = profile.NewResource(rl.Resource().Attributes().AsRaw()), true
				}
				obs = append(obs, resource.Observation(lr.Attributes().AsRaw(), recordTime(lr)))
			}
		}
	}
	if len(obs) > 0 {
		c.mu.Lock()
		for _, o := range obs {
			c.builder.Add(o)
		}
		c.mu.Unlock()
		c.telemetry.ConnectorCapabilityProfileRecordsAdded.Add(ctx, int64(len(obs)))
	}
	if ignored > 0 {
		c.telemetry.ConnectorCapabilityProfileRecordsIgnored.Add(ctx, ignored)
	}
	return nil
}

// isCheck reports whether a record is a capability check: by its event
// name, or by the deprecated event.name attribute when it has none.
func isCheck(lr plog.LogRecord) bool {
	if name := lr.EventName(); name != "" {
		return name == check.EventName
	}
	v, ok := lr.Attributes().Get(attrEventName)
	return ok && v.Type() == pcommon.ValueTypeStr && v.Str() == check.EventName
}

// recordTime is when the check was made: the record's time, else when it
// was observed.
func recordTime(lr plog.LogRecord) time.Time {
	ts := lr.Timestamp()
	if ts == 0 {
		ts = lr.ObservedTimestamp()
	}
	return ts.AsTime()
}

// flush emits the profiles that changed and then persists all of them. A
// refused emission marks them changed again for the next flush; the
// snapshot is written either way. One flush runs at a time.
func (c *profileConnector) flush(ctx context.Context) {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	c.mu.Lock()
	changed := c.builder.Changed()
	var snapshot []profile.Profile
	if len(changed) > 0 && c.client != nil {
		snapshot = c.builder.Profiles()
	}
	evicted, kept := c.builder.Evicted(), c.builder.Len()
	newlyEvicted := evicted - c.evictedSeen
	c.evictedSeen = evicted
	c.mu.Unlock()

	if newlyEvicted > 0 {
		c.set.Logger.Warn("capability profiles evicted to stay within max_profiles",
			zap.Uint64("evicted", newlyEvicted), zap.Uint64("evicted_total", evicted),
			zap.Int("profiles", kept), zap.Int("max_profiles", c.cfg.MaxProfiles))
	}
	if len(changed) == 0 {
		return
	}
	logs := profilesToLogs(changed, c.cfg.Writer, c.set.BuildInfo.Version, time.Now())
	var unemitted []string
	if err := c.next.ConsumeLogs(ctx, logs); err != nil {
		keys := make([]profile.Key, len(changed))
		unemitted = make([]string, len(changed))
		for i := range changed {
			keys[i], unemitted[i] = changed[i].Key, changed[i].ID
		}
		c.mu.Lock()
		c.builder.MarkChanged(keys...)
		c.mu.Unlock()
		c.set.Logger.Warn("profile records refused by the next consumer; retrying at the next interval",
			zap.Int("profiles", len(changed)), zap.Error(err))
	} else {
		c.telemetry.ConnectorCapabilityProfileProfilesEmitted.Add(ctx, int64(len(changed)))
	}
	if snapshot != nil {
		c.persist(ctx, snapshot, unemitted)
	}
}

// persist writes the snapshot, and the ids of its profiles whose changes
// were not emitted, to the storage extension in one batch, replacing the
// last.
func (c *profileConnector) persist(ctx context.Context, snapshot []profile.Profile, unemitted []string) {
	var b bytes.Buffer
	err := profile.Write(&b, profile.FormatJSON, snapshot)
	var ids []byte
	if err == nil {
		ids, err = json.Marshal(unemitted)
	}
	if err == nil {
		err = c.client.Batch(ctx, storage.SetOperation(storageKey, b.Bytes()), storage.SetOperation(unemittedKey, ids))
	}
	if err != nil {
		c.telemetry.ConnectorCapabilityProfileStorageErrors.Add(ctx, 1)
		c.set.Logger.Error("cannot persist capability profiles", zap.Stringer("storage", c.cfg.Storage),
			zap.Int("profiles", len(snapshot)), zap.Error(err))
	}
}

func (c *profileConnector) registerMetrics() error {
	stat := func(pick func(*profile.Builder) int64) metric.Int64Callback {
		return func(_ context.Context, o metric.Int64Observer) error {
			c.mu.Lock()
			v := pick(c.builder)
			c.mu.Unlock()
			o.Observe(v)
			return nil
		}
	}
	return errors.Join(
		c.telemetry.RegisterConnectorCapabilityProfileProfilesCallback(stat(func(b *profile.Builder) int64 { return int64(b.Len()) })),
		c.telemetry.RegisterConnectorCapabilityProfileProfilesEvictedCallback(stat(func(b *profile.Builder) int64 { return int64(b.Evicted()) })),
	)
}
