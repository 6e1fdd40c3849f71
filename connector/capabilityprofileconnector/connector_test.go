package capabilityprofileconnector

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/capprof/capprof/connector/capabilityprofileconnector/internal/metadata"
	"github.com/capprof/capprof/connector/capabilityprofileconnector/internal/metadatatest"
	"github.com/capprof/capprof/internal/check"
)

const webID = "k8s shop/Deployment/web/app"

// testConfig is the default config with an interval long enough never to
// tick in a test, unless the test says otherwise.
func testConfig() *Config {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Interval = time.Hour
	return cfg
}

func newTestConnector(t testing.TB, cfg *Config, next consumer.Logs) (*profileConnector, *componenttest.Telemetry) {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	c, err := newConnector(metadatatest.NewSettings(tel), cfg, next)
	require.NoError(t, err)
	return c, tel
}

// TestReplicasMergeAcrossNodes: checks of one Deployment's replicas on two
// nodes make one profile, emitted once at shutdown.
func TestReplicasMergeAcrossNodes(t *testing.T) {
	sink := &consumertest.LogsSink{}
	c, tel := newTestConnector(t, testConfig(), sink)
	require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))

	logs := plog.NewLogs()
	checkRecords(logs, workload("node-1", "web-1"), grant(capChown, "/bin/chown", "fchownat", 0), grant(capChown, "/bin/chown", "fchownat", 1))
	checkRecords(logs, workload("node-2", "web-2"), grant(capChown, "/bin/chown", "fchownat", 2))
	require.NoError(t, c.ConsumeLogs(context.Background(), logs))
	require.Empty(t, sink.AllLogs(), "emitted before the interval")
	// Observable gauges report while the connector runs.
	metadatatest.AssertEqualConnectorCapabilityProfileProfiles(t, tel, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	require.NoError(t, c.Shutdown(context.Background()))

	byID := profileRecords(sink.AllLogs())
	require.Len(t, byID, 1)
	require.Len(t, byID[webID], 1)
	r := byID[webID][0]
	assert.Equal(t, int64(3), intAttr(r, attrChecks))
	assert.Equal(t, []string{"node-1", "node-2"}, stringsAttr(r, attrHosts))
	assert.Equal(t, []string{"CHOWN"}, stringsAttr(r, attrRecommendedAdd))
	metadatatest.AssertEqualConnectorCapabilityProfileRecordsAdded(t, tel, []metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualConnectorCapabilityProfileProfilesEmitted(t, tel, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
}

// TestOtherRecordsIgnored: records that are not capability checks are
// counted and do not make profiles; the deprecated event.name attribute
// still marks a check.
func TestOtherRecordsIgnored(t *testing.T) {
	sink := &consumertest.LogsSink{}
	c, tel := newTestConnector(t, testConfig(), sink)
	require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))

	logs := plog.NewLogs()
	checkRecords(logs, workload("node-1", "web-1"), grant(capChown, "/bin/chown", "fchownat", 0))
	rl := logs.ResourceLogs().AppendEmpty()
	records := rl.ScopeLogs().AppendEmpty().LogRecords()
	records.AppendEmpty().Body().SetStr("an application's log line")
	other := records.AppendEmpty()
	other.SetEventName("k8s.event")
	attrOnly := records.AppendEmpty()
	checkAttributes(attrOnly.Attributes(), grant(capNetBindService, "/bin/srv", "bind", 1))
	attrOnly.Attributes().PutStr("event.name", check.EventName)
	require.NoError(t, c.ConsumeLogs(context.Background(), logs))
	require.NoError(t, c.Shutdown(context.Background()))

	byID := profileRecords(sink.AllLogs())
	require.Len(t, byID, 2, "the web workload and the record keyed by the event.name attribute (a host process)")
	metadatatest.AssertEqualConnectorCapabilityProfileRecordsIgnored(t, tel, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualConnectorCapabilityProfileRecordsAdded(t, tel, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
}

// TestEmitsEveryIntervalOnlyChanged: the ticker emits a profile that
// changed, and a profile that did not change is not emitted again.
func TestEmitsEveryIntervalOnlyChanged(t *testing.T) {
	sink := &consumertest.LogsSink{}
	cfg := testConfig()
	cfg.Interval = 20 * time.Millisecond
	c, _ := newTestConnector(t, cfg, sink)
	require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, c.Shutdown(context.Background())) })

	logs := plog.NewLogs()
	checkRecords(logs, workload("node-1", "web-1"), grant(capChown, "/bin/chown", "fchownat", 0))
	require.NoError(t, c.ConsumeLogs(context.Background(), logs))
	require.Eventually(t, func() bool { return len(profileRecords(sink.AllLogs())[webID]) == 1 }, 10*time.Second, 5*time.Millisecond)

	// Another check: the next tick emits the profile again, with both.
	logs = plog.NewLogs()
	checkRecords(logs, workload("node-2", "web-2"), grant(capChown, "/bin/chown", "fchownat", 1))
	require.NoError(t, c.ConsumeLogs(context.Background(), logs))
	require.Eventually(t, func() bool { return len(profileRecords(sink.AllLogs())[webID]) == 2 }, 10*time.Second, 5*time.Millisecond)
	records := profileRecords(sink.AllLogs())[webID]
	assert.Equal(t, int64(2), intAttr(records[1], attrChecks))

	// Nothing new: flushing emits nothing.
	c.flush(context.Background())
	assert.Len(t, profileRecords(sink.AllLogs())[webID], 2)
}

// refusing fails its first calls, then passes records to the sink.
type refusing struct {
	consumertest.LogsSink
	failures int
}

func (r *refusing) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if r.failures > 0 {
		r.failures--
		return errors.New("queue full")
	}
	return r.LogsSink.ConsumeLogs(ctx, ld)
}

// TestRefusedEmissionRetried: profiles the next consumer refused are
// emitted at the next flush.
func TestRefusedEmissionRetried(t *testing.T) {
	next := &refusing{failures: 1}
	c, _ := newTestConnector(t, testConfig(), next)
	logs := plog.NewLogs()
	checkRecords(logs, workload("node-1", "web-1"), grant(capChown, "/bin/chown", "fchownat", 0))
	require.NoError(t, c.ConsumeLogs(context.Background(), logs))
	c.flush(context.Background())
	require.Empty(t, next.AllLogs())
	c.flush(context.Background())
	require.Len(t, profileRecords(next.AllLogs())[webID], 1)
}

// TestMaxProfiles: beyond max_profiles the least recently updated profile is
// evicted and counted.
func TestMaxProfiles(t *testing.T) {
	sink := &consumertest.LogsSink{}
	cfg := testConfig()
	cfg.MaxProfiles = 2
	c, tel := newTestConnector(t, cfg, sink)
	require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
	for i, name := range []string{"a", "b", "c"} {
		res := workload("node-1", name+"-1")
		res.Kubernetes.Deployment = name
		logs := plog.NewLogs()
		checkRecords(logs, res, grant(capChown, "/bin/chown", "fchownat", i))
		require.NoError(t, c.ConsumeLogs(context.Background(), logs))
	}
	metadatatest.AssertEqualConnectorCapabilityProfileProfilesEvicted(t, tel, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualConnectorCapabilityProfileProfiles(t, tel, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	require.NoError(t, c.Shutdown(context.Background()))
	byID := profileRecords(sink.AllLogs())
	assert.Len(t, byID, 2)
	assert.NotContains(t, byID, "k8s shop/Deployment/a/app", "the oldest is evicted")
}

// storageHost is a host with one storage extension.
type storageHost struct {
	component.Host
	exts map[component.ID]component.Component
}

func (h storageHost) GetExtensions() map[component.ID]component.Component { return h.exts }

// startFileStorage starts contrib's real file_storage extension in dir.
func startFileStorage(t *testing.T, dir string) (component.ID, component.Host, extension.Extension) {
	t.Helper()
	f := filestorage.NewFactory()
	cfg := f.CreateDefaultConfig().(*filestorage.Config)
	cfg.Directory = dir
	id := component.NewIDWithName(f.Type(), "profiles")
	set := extensiontest.NewNopSettings(f.Type())
	set.ID = id
	ext, err := f.Create(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	return id, storageHost{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{id: ext}}, ext
}

// runWithStorage starts a connector on file_storage in dir, feeds logs,
// calls running (if not nil) with its telemetry, shuts both down, and
// returns what it emitted.
func runWithStorage(t *testing.T, dir string, logs plog.Logs, running func(*componenttest.Telemetry)) (*consumertest.LogsSink, *componenttest.Telemetry) {
	t.Helper()
	sink := &consumertest.LogsSink{}
	tel := runWithStorageTo(t, dir, sink, logs, running)
	return sink, tel
}

// runWithStorageTo is runWithStorage emitting to next.
func runWithStorageTo(t *testing.T, dir string, next consumer.Logs, logs plog.Logs, running func(*componenttest.Telemetry)) *componenttest.Telemetry {
	t.Helper()
	id, host, ext := startFileStorage(t, dir)
	cfg := testConfig()
	cfg.Storage = &id
	c, tel := newTestConnector(t, cfg, next)
	require.NoError(t, c.Start(context.Background(), host))
	require.NoError(t, c.ConsumeLogs(context.Background(), logs))
	if running != nil {
		running(tel)
	}
	require.NoError(t, c.Shutdown(context.Background()))
	require.NoError(t, ext.Shutdown(context.Background()))
	return tel
}

// TestProfilesSurviveRestart: with file_storage, a new connector restores
// the profiles the last one persisted at shutdown and adds to them.
func TestProfilesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	first := plog.NewLogs()
	checkRecords(first, workload("node-1", "web-1"), grant(capChown, "/bin/chown", "fchownat", 0), grant(capChown, "/bin/chown", "fchownat", 1))
	checkRecords(first, check.ResourceFields{HostName: "node-1"}, grant(capNetBindService, "/usr/sbin/chronyd", "bind", 2))
	sink, _ := runWithStorage(t, dir, first, nil)
	require.Len(t, profileRecords(sink.AllLogs()), 2)

	// Restarted without new records: two profiles restored, nothing emitted
	// (restored profiles did not change).
	sink, _ = runWithStorage(t, dir, plog.NewLogs(), func(tel *componenttest.Telemetry) {
		metadatatest.AssertEqualConnectorCapabilityProfileProfiles(t, tel, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	})
	assert.Empty(t, profileRecords(sink.AllLogs()))

	// Restarted with one more check of the web workload from another node:
	// its profile adds up both runs.
	more := plog.NewLogs()
	checkRecords(more, workload("node-2", "web-2"), grant(capChown, "/bin/chown", "fchownat", 3))
	sink, _ = runWithStorage(t, dir, more, nil)
	byID := profileRecords(sink.AllLogs())
	require.Len(t, byID, 1)
	r := byID[webID][0]
	assert.Equal(t, int64(3), intAttr(r, attrChecks))
	assert.Equal(t, []string{"node-1", "node-2"}, stringsAttr(r, attrHosts))
	assert.Equal(t, "2026-03-01T10:00:00Z", mustStr(t, r, attrWindowStart))
}

// TestRefusedAtShutdownEmittedAfterRestart: profiles whose emission the
// next consumer refused at shutdown are persisted as unemitted, and the
// restarted connector emits them without new records; once emitted, a
// further restart does not emit them again.
func TestRefusedAtShutdownEmittedAfterRestart(t *testing.T) {
	dir := t.TempDir()
	logs := plog.NewLogs()
	checkRecords(logs, workload("node-1", "web-1"), grant(capChown, "/bin/chown", "fchownat", 0))
	checkRecords(logs, check.ResourceFields{HostName: "node-1"}, grant(capNetBindService, "/usr/sbin/chronyd", "bind", 1))
	refused := &refusing{failures: 1}
	runWithStorageTo(t, dir, refused, logs, nil)
	require.Empty(t, refused.AllLogs())

	sink, _ := runWithStorage(t, dir, plog.NewLogs(), nil)
	byID := profileRecords(sink.AllLogs())
	require.Len(t, byID, 2, "both refused profiles are emitted after the restart")
	assert.Equal(t, int64(1), intAttr(byID[webID][0], attrChecks))

	sink, _ = runWithStorage(t, dir, plog.NewLogs(), nil)
	assert.Empty(t, profileRecords(sink.AllLogs()), "emitted profiles are not emitted again")
}

// blocking holds every ConsumeLogs until release is closed, telling entered
// on its first call.
type blocking struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blocking) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (b *blocking) ConsumeLogs(context.Context, plog.Logs) error {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return nil
}

// TestShutdownDeadlineWhileFlushing: when ctx ends while the ticker's flush
// is blocked in the next consumer, Shutdown returns ctx's error and keeps
// the storage client open for that flush, which still persists its
// snapshot; a second Shutdown then waits for the loop and closes the client.
func TestShutdownDeadlineWhileFlushing(t *testing.T) {
	dir := t.TempDir()
	id, host, ext := startFileStorage(t, dir)
	cfg := testConfig()
	cfg.Storage = &id
	cfg.Interval = 10 * time.Millisecond
	next := &blocking{entered: make(chan struct{}), release: make(chan struct{})}
	c, _ := newTestConnector(t, cfg, next)
	require.NoError(t, c.Start(context.Background(), host))
	logs := plog.NewLogs()
	checkRecords(logs, workload("node-1", "web-1"), grant(capChown, "/bin/chown", "fchownat", 0))
	require.NoError(t, c.ConsumeLogs(context.Background(), logs))
	<-next.entered

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.Shutdown(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "wait for the emission loop")
	require.NotNil(t, c.client, "the client stays open while the flush may use it")

	close(next.release)
	require.NoError(t, c.Shutdown(context.Background()))
	require.Nil(t, c.client)
	require.NoError(t, ext.Shutdown(context.Background()))

	// The blocked flush persisted its snapshot before the client closed.
	sink, _ := runWithStorage(t, dir, plog.NewLogs(), func(tel *componenttest.Telemetry) {
		metadatatest.AssertEqualConnectorCapabilityProfileProfiles(t, tel, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	})
	assert.Empty(t, profileRecords(sink.AllLogs()), "the blocked flush's emission went through")
}

// TestDamagedSnapshot: an unreadable snapshot is counted and skipped; the
// connector starts empty and its next snapshot replaces the damaged one.
func TestDamagedSnapshot(t *testing.T) {
	dir := t.TempDir()
	_, _, ext := startFileStorage(t, dir)
	client, err := ext.(storage.Extension).GetClient(context.Background(), component.KindConnector, component.NewID(metadata.Type), "")
	require.NoError(t, err)
	require.NoError(t, client.Set(context.Background(), storageKey, []byte("{not json")))
	require.NoError(t, client.Close(context.Background()))
	require.NoError(t, ext.Shutdown(context.Background()))

	logs := plog.NewLogs()
	checkRecords(logs, workload("node-1", "web-1"), grant(capChown, "/bin/chown", "fchownat", 0))
	sink, tel := runWithStorage(t, dir, logs, nil)
	require.Len(t, profileRecords(sink.AllLogs()), 1)
	metadatatest.AssertEqualConnectorCapabilityProfileStorageErrors(t, tel, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())

	runWithStorage(t, dir, plog.NewLogs(), func(tel *componenttest.Telemetry) {
		metadatatest.AssertEqualConnectorCapabilityProfileProfiles(t, tel, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	})
}

// notStorage is an extension that is not a storage extension.
type notStorage struct {
	component.StartFunc
	component.ShutdownFunc
}

func TestStorageMisconfigured(t *testing.T) {
	other := component.MustNewID("health_check")
	tests := []struct {
		name    string
		storage component.ID
		wantErr string
	}{
		{name: "not configured", storage: component.MustNewIDWithName("file_storage", "missing"), wantErr: "storage: extension file_storage/missing is not configured"},
		{name: "not a storage extension", storage: other, wantErr: "storage: extension health_check is not a storage extension"},
	}
	host := storageHost{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{other: notStorage{}}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Storage = &tt.storage
			c, _ := newTestConnector(t, cfg, consumertest.NewNop())
			require.ErrorContains(t, c.Start(context.Background(), host), tt.wantErr)
			require.NoError(t, c.Shutdown(context.Background()))
		})
	}
}

// TestShutdownTwice: Shutdown after Shutdown, and without Start, is fine.
func TestShutdownTwice(t *testing.T) {
	c, _ := newTestConnector(t, testConfig(), consumertest.NewNop())
	require.NoError(t, c.Shutdown(context.Background()))
	c, _ = newTestConnector(t, testConfig(), consumertest.NewNop())
	require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, c.Shutdown(context.Background()))
	require.NoError(t, c.Shutdown(context.Background()))
}
