//go:build linux

package capabilitiesreceiver

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/check/checktest"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/kube"
	"github.com/capprof/capprof/internal/tracer"
	"github.com/capprof/capprof/receiver/capabilitiesreceiver/internal/metadatatest"
)

// fakeRecorder stands in for the eBPF controller: it writes its batches,
// then records nothing until stopped, and then writes its final batch.
type fakeRecorder struct {
	batches [][]check.Check
	final   []check.Check
	stats   controller.Stats
	ran     chan struct{} // closed once the batches were written
	closed  atomic.Bool
}

func (f *fakeRecorder) Run(ctx context.Context, sink controller.Sink) error {
	for _, b := range f.batches {
		if err := sink.Write(b); err != nil {
			return err
		}
	}
	close(f.ran)
	<-ctx.Done()
	if f.final != nil {
		return sink.Write(f.final)
	}
	return nil
}
func (f *fakeRecorder) Stats() controller.Stats { return f.stats }
func (f *fakeRecorder) Method() tracer.Method   { return tracer.TPBTF }
func (f *fakeRecorder) Close() error            { f.closed.Store(true); return nil }

func newFake(batches ...[]check.Check) *fakeRecorder {
	return &fakeRecorder{batches: batches, ran: make(chan struct{})}
}

func startFake(t *testing.T, fake *fakeRecorder, next consumer.Logs, tt *componenttest.Telemetry) *capabilitiesReceiver {
	t.Helper()
	r, err := newReceiver(metadatatest.NewSettings(tt), createDefaultConfig(), next,
		func(controller.Config) (recorder, error) { return fake, nil })
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	<-fake.ran
	return r
}

func TestRecordsArriveGroupedByContainer(t *testing.T) {
	tt := componenttest.NewTelemetry()
	defer tt.Shutdown(context.Background())
	sink := new(consumertest.LogsSink)
	fake := newFake(checktest.Checks())
	fake.final = checktest.Checks()[:1] // what the last flush at shutdown writes
	r := startFake(t, fake, sink, tt)
	require.NoError(t, r.Shutdown(context.Background()))

	require.True(t, fake.closed.Load(), "Shutdown must close the recorder")
	logs := sink.AllLogs()
	require.Len(t, logs, 2, "a batch while running and the final one at shutdown")
	require.Equal(t, 3, logs[0].ResourceLogs().Len(), "the host's process, the container's process in two user namespaces")
	require.Equal(t, 3, logs[0].LogRecordCount())
	require.Equal(t, 1, logs[1].LogRecordCount(), "the final flush reaches the consumer before Shutdown returns")

	assert.Equal(t, int64(4), metricSum(t, tt, "otelcol_receiver_accepted_log_records"))
	assert.Equal(t, int64(0), metricSum(t, tt, "otelcol_receiver_refused_log_records"))
}

// metricSum adds up an int64 sum metric's data points (0 when absent).
func metricSum(t *testing.T, tt *componenttest.Telemetry, name string) int64 {
	t.Helper()
	m, err := tt.GetMetric(name)
	if err != nil {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is %T", name, m.Data)
	var n int64
	for _, dp := range sum.DataPoints {
		n += dp.Value
	}
	return n
}

// flakyConsumer fails its first failures calls with err, then accepts.
type flakyConsumer struct {
	consumertest.LogsSink
	err      error
	failures int
	calls    atomic.Int32
}

func (f *flakyConsumer) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if int(f.calls.Add(1)) <= f.failures {
		return f.err
	}
	return f.LogsSink.ConsumeLogs(ctx, ld)
}

func TestRefusedBatchesAreRetriedThenCounted(t *testing.T) {
	for _, tc := range []struct {
		name         string
		err          error
		failures     int
		wantCalls    int32
		wantAccepted int64
		wantRefused  int64
	}{
		{"transient error, then accepted", errors.New("memory limiter: data refused"), 2, 3, 3, 0},
		{"still refused after every attempt", errors.New("backpressure"), 100, consumeAttempts, 0, 3},
		{"permanent error is not retried", consumererror.NewPermanent(errors.New("bad data")), 100, 1, 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tt := componenttest.NewTelemetry()
			defer tt.Shutdown(context.Background())
			next := &flakyConsumer{err: tc.err, failures: tc.failures}
			r := startFake(t, newFake(checktest.Checks()), next, tt)
			require.NoError(t, r.Shutdown(context.Background()))
			assert.Equal(t, tc.wantCalls, next.calls.Load())
			assert.Equal(t, tc.wantAccepted, metricSum(t, tt, "otelcol_receiver_accepted_log_records"))
			assert.Equal(t, tc.wantRefused, metricSum(t, tt, "otelcol_receiver_refused_log_records"))
		})
	}
}

func TestShutdownWithoutStartAndTwice(t *testing.T) {
	r, err := newReceiver(metadatatest.NewSettings(componenttest.NewTelemetry()), createDefaultConfig(), consumertest.NewNop(),
		func(controller.Config) (recorder, error) { return newFake(), nil })
	require.NoError(t, err)
	require.NoError(t, r.Shutdown(context.Background()))
	require.NoError(t, r.Shutdown(context.Background()))

	fake := newFake()
	r = startFake(t, fake, consumertest.NewNop(), componenttest.NewTelemetry())
	require.NoError(t, r.Shutdown(context.Background()))
	require.NoError(t, r.Shutdown(context.Background()))
	require.True(t, fake.closed.Load())
}

// statusHost records the component status events reported to it.
type statusHost struct {
	component.Host
	mu     sync.Mutex
	events []*componentstatus.Event
}

func (h *statusHost) Report(e *componentstatus.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, e)
}

func TestLoadFailureIsReportedAsFatalStatus(t *testing.T) {
	loadErr := errors.New("load tp_btf programs: operation not permitted")
	r, err := newReceiver(metadatatest.NewSettings(componenttest.NewTelemetry()), createDefaultConfig(), consumertest.NewNop(),
		func(controller.Config) (recorder, error) { return nil, loadErr })
	require.NoError(t, err)
	host := &statusHost{Host: componenttest.NewNopHost()}
	require.NoError(t, r.Start(context.Background(), host), "Start returns before loading")
	require.Eventually(t, func() bool {
		host.mu.Lock()
		defer host.mu.Unlock()
		return len(host.events) == 1
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, r.Shutdown(context.Background()))
	assert.Equal(t, componentstatus.StatusFatalError, host.events[0].Status())
	assert.ErrorIs(t, host.events[0].Err(), loadErr)
}

func TestStartRejectsAnInvalidConfig(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Mode = 9
	r, err := newReceiver(metadatatest.NewSettings(componenttest.NewTelemetry()), cfg, consumertest.NewNop(),
		func(controller.Config) (recorder, error) { return newFake(), nil })
	require.NoError(t, err)
	require.ErrorContains(t, r.Start(context.Background(), componenttest.NewNopHost()), "mode")
	require.NoError(t, r.Shutdown(context.Background()))
}

func TestOwnMetrics(t *testing.T) {
	tt := componenttest.NewTelemetry()
	defer tt.Shutdown(context.Background())
	fake := newFake()
	fake.stats = controller.Stats{Events: 1234, Lost: 56}
	fake.stats.NoauditSkipped[21] = 9000
	fake.stats.NoauditSkipped[34] = 7
	r := startFake(t, fake, consumertest.NewNop(), tt)
	defer r.Shutdown(context.Background())

	metadatatest.AssertEqualReceiverCapabilitiesEventsLost(t, tt,
		[]metricdata.DataPoint[int64]{{Value: 56}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualReceiverCapabilitiesEventsDecoded(t, tt,
		[]metricdata.DataPoint[int64]{{Value: 1234}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualReceiverCapabilitiesAttached(t, tt,
		[]metricdata.DataPoint[int64]{{Value: 1, Attributes: attribute.NewSet(attribute.String("method", "tp_btf"))}},
		metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualReceiverCapabilitiesNoauditSkipped(t, tt, []metricdata.DataPoint[int64]{
		{Value: 9000, Attributes: attribute.NewSet(attribute.String("capability", "CAP_SYS_ADMIN"))},
		{Value: 7, Attributes: attribute.NewSet(attribute.String("capability", "CAP_SYSLOG"))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestKubernetesStateIsReportedAsStatusAndMetric(t *testing.T) {
	tt := componenttest.NewTelemetry()
	defer tt.Shutdown(context.Background())
	r, err := newReceiver(metadatatest.NewSettings(tt), createDefaultConfig(), consumertest.NewNop(),
		func(controller.Config) (recorder, error) { return newFake(), nil })
	require.NoError(t, err)
	defer r.Shutdown(context.Background())
	host := &statusHost{Host: componenttest.NewNopHost()}
	reachable := func(v int64) {
		t.Helper()
		metadatatest.AssertEqualReceiverCapabilitiesKubernetesAPIReachable(t, tt,
			[]metricdata.DataPoint[int64]{{Value: v}}, metricdatatest.IgnoreTimestamp())
	}

	_, err = tt.GetMetric("otelcol_receiver_capabilities_kubernetes_api_reachable")
	require.Error(t, err, "no data point with kubernetes disabled")
	r.reportKubeState(host, kube.StateSyncing, nil)
	reachable(0)
	r.reportKubeState(host, kube.StateSynced, nil)
	reachable(1)
	down := errors.New("dial tcp 10.0.0.1:443: connect: connection refused")
	r.reportKubeState(host, kube.StateUnreachable, down)
	reachable(0)
	r.reportKubeState(host, kube.StateSynced, nil)
	reachable(1)

	host.mu.Lock()
	defer host.mu.Unlock()
	require.Len(t, host.events, 3)
	assert.Equal(t, componentstatus.StatusOK, host.events[0].Status())
	assert.Equal(t, componentstatus.StatusRecoverableError, host.events[1].Status())
	assert.ErrorIs(t, host.events[1].Err(), down)
	assert.Equal(t, componentstatus.StatusOK, host.events[2].Status())
}

// TestShutdownEndsTheRetryOfARefusedBatch makes the next consumer refuse
// every batch and the retry wait an hour: Shutdown returns anyway, the
// batch is counted as refused and not offered again.
func TestShutdownEndsTheRetryOfARefusedBatch(t *testing.T) {
	tt := componenttest.NewTelemetry()
	defer tt.Shutdown(context.Background())
	next := &flakyConsumer{err: errors.New("backpressure"), failures: math.MaxInt}
	fake := newFake(checktest.Checks())
	r, err := newReceiver(metadatatest.NewSettings(tt), createDefaultConfig(), next,
		func(controller.Config) (recorder, error) { return fake, nil })
	require.NoError(t, err)
	r.backoff = time.Hour
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	require.Eventually(t, func() bool { return next.calls.Load() == 1 }, 10*time.Second, time.Millisecond)

	// The deadline only keeps a broken Shutdown from hanging the test.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, r.Shutdown(ctx))
	assert.Equal(t, int32(1), next.calls.Load(), "no retry after Shutdown")
	assert.Equal(t, int64(3), metricSum(t, tt, "otelcol_receiver_refused_log_records"))
}

func TestStatusCombinesMissingCgroupsAndKubernetes(t *testing.T) {
	r, err := newReceiver(metadatatest.NewSettings(componenttest.NewTelemetry()), createDefaultConfig(), consumertest.NewNop(),
		func(controller.Config) (recorder, error) { return newFake(), nil })
	require.NoError(t, err)
	defer r.Shutdown(context.Background())
	host := &statusHost{Host: componenttest.NewNopHost()}
	down := errors.New("dial tcp 10.0.0.1:443: connect: connection refused")

	for _, step := range []struct {
		name    string
		report  func()
		want    componentstatus.Status
		message []string // parts of the error's message
	}{
		{"include directory missing", func() { r.reportMissingCgroups(host, []string{"/sys/fs/cgroup/kubepods"}) },
			componentstatus.StatusRecoverableError, []string{"/sys/fs/cgroup/kubepods do not exist yet"}},
		{"api server synced, directory still missing", func() { r.reportKubeState(host, kube.StateSynced, nil) },
			componentstatus.StatusRecoverableError, []string{"/sys/fs/cgroup/kubepods do not exist yet"}},
		{"api server unreachable too", func() { r.reportKubeState(host, kube.StateUnreachable, down) },
			componentstatus.StatusRecoverableError, []string{"/sys/fs/cgroup/kubepods do not exist yet", down.Error()}},
		{"directory appeared", func() { r.reportMissingCgroups(host, nil) },
			componentstatus.StatusRecoverableError, []string{down.Error()}},
		{"api server back", func() { r.reportKubeState(host, kube.StateSynced, nil) }, componentstatus.StatusOK, nil},
	} {
		step.report()
		host.mu.Lock()
		last := host.events[len(host.events)-1]
		host.mu.Unlock()
		assert.Equal(t, step.want, last.Status(), step.name)
		for _, m := range step.message {
			assert.ErrorContains(t, last.Err(), m, step.name)
		}
		if step.message == nil {
			assert.NoError(t, last.Err(), step.name)
		}
	}
}
