//go:build linux

package capabilitiesreceiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/capprof/capprof/checklogs"
	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/kube"
	"github.com/capprof/capprof/internal/tracer"
	"github.com/capprof/capprof/receiver/capabilitiesreceiver/internal/metadata"
)

// recorder is what the receiver needs of a controller; tests swap it.
type recorder interface {
	Run(ctx context.Context, sink controller.Sink) error
	Stats() controller.Stats
	Method() tracer.Method
	Close() error
}

func newControllerRecorder(cfg controller.Config) (recorder, error) {
	return controller.New(cfg)
}

// Consumer errors that are not permanent are retried this many times, with
// backoff, before the batch is counted as refused. Shutdown ends the waits.
const (
	consumeAttempts = 4
	consumeBackoff  = 50 * time.Millisecond
)

type capabilitiesReceiver struct {
	cfg         *Config
	settings    receiver.Settings
	next        consumer.Logs
	obsrecv     *receiverhelper.ObsReport
	telemetry   *metadata.TelemetryBuilder
	newRecorder func(controller.Config) (recorder, error)
	backoff     time.Duration // the first retry's wait; tests lengthen it

	rec       atomic.Pointer[recorder] // set while recording, for the metrics
	kubeState atomic.Int32             // kube.State+1 with kubernetes enabled, else 0
	mapper    checklogs.Mapper         // used by sink.Write only

	// statusMu guards the conditions the component status reports, and
	// orders the reports.
	statusMu        sync.Mutex
	kubeUnreachable error
	missingCgroups  []string

	mu     sync.Mutex // guards cancel and done across Start and Shutdown
	cancel context.CancelFunc
	done   chan struct{}
}

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Logs, newRecorder func(controller.Config) (recorder, error)) (*capabilitiesReceiver, error) {
	obsrecv, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "ebpf",
		LongLivedCtx:           true,
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	r := &capabilitiesReceiver{cfg: cfg, settings: set, next: next, obsrecv: obsrecv, telemetry: tb,
		newRecorder: newRecorder, backoff: consumeBackoff}
	r.mapper.Version = set.BuildInfo.Version
	if err := r.registerMetrics(); err != nil {
		tb.Shutdown()
		return nil, err
	}
	return r, nil
}

// Start returns at once; loading the BPF program and recording happen in
// the background, and a failure there is reported through component status.
func (r *capabilitiesReceiver) Start(_ context.Context, host component.Host) error {
	cfg, err := r.cfg.recorderConfig()
	if err != nil {
		return err
	}
	// Below the floor nothing can load: say which piece is missing now,
	// in one line, rather than in the recorder's later status.
	if err := tracer.CheckFloor(); err != nil {
		return err
	}
	cfg.Logger = slog.New(zapslog.NewHandler(r.settings.Logger.Core()))
	if cfg.Kubernetes != nil {
		r.kubeState.Store(int32(kube.StateSyncing) + 1)
		cfg.Kubernetes.Watch.OnState = func(s kube.State, err error) { r.reportKubeState(host, s, err) }
	}
	cfg.OnMissingCgroups = func(paths []string) { r.reportMissingCgroups(host, paths) }
	ctx, cancel := context.WithCancel(context.Background())
	r.mu.Lock()
	r.cancel, r.done = cancel, make(chan struct{})
	r.mu.Unlock()
	go r.record(ctx, host, cfg)
	return nil
}

func (r *capabilitiesReceiver) record(ctx context.Context, host component.Host, cfg controller.Config) {
	defer close(r.done)
	rec, err := r.newRecorder(cfg)
	if err != nil {
		r.settings.Logger.Error("cannot record capability checks", zap.Error(err))
		componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		return
	}
	defer rec.Close()
	r.rec.Store(&rec)
	defer r.rec.Store(nil)
	r.settings.Logger.Info("recording capability checks", zap.String("method", string(rec.Method())), zap.Stringer("mode", r.cfg.Mode), zap.String("audit", string(r.cfg.Audit)))
	if err := rec.Run(ctx, sink{r, ctx.Done()}); err != nil {
		r.settings.Logger.Error("recording stopped", zap.Error(err))
		componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
	}
	s := rec.Stats()
	r.settings.Logger.Info("recording stopped", zap.Uint64("records", s.Records), zap.Uint64("checks", s.Checks),
		zap.Uint64("lost_events", s.Lost), zap.Uint64("evicted_keys", s.EvictedKeys),
		zap.Uint64("held_for_pod_metadata", s.Held), zap.Uint64("unbound", s.Unbound),
		zap.Uint64("noaudit_skipped", s.NoauditSkipped.Total()), zap.Uint64("unselected_skipped", s.UnselectedSkipped.Total()))
}

// reportKubeState reports the API server's state as component status: a
// recoverable error while it is unreachable (recording goes on with the
// pod metadata already known), OK once the informer is in sync again. The
// watcher logs the changes.
func (r *capabilitiesReceiver) reportKubeState(host component.Host, s kube.State, err error) {
	r.kubeState.Store(int32(s) + 1)
	if s == kube.StateSyncing {
		return
	}
	r.statusMu.Lock()
	defer r.statusMu.Unlock()
	r.kubeUnreachable = nil
	if s == kube.StateUnreachable {
		r.kubeUnreachable = fmt.Errorf("kubernetes API server unreachable: %w", err)
	}
	r.reportStatus(host)
}

// reportMissingCgroups reports the cgroup filter directories that do not
// exist yet as a recoverable error: recording starts on them as they
// appear. The controller logs the changes.
func (r *capabilitiesReceiver) reportMissingCgroups(host component.Host, paths []string) {
	r.statusMu.Lock()
	defer r.statusMu.Unlock()
	r.missingCgroups = paths
	r.reportStatus(host)
}

// reportStatus reports OK, or a recoverable error that says what is wrong;
// statusMu is held.
func (r *capabilitiesReceiver) reportStatus(host component.Host) {
	var errs []error
	if len(r.missingCgroups) > 0 {
		errs = append(errs, fmt.Errorf("cgroups: %s do not exist yet; recording there starts when they appear",
			strings.Join(r.missingCgroups, ", ")))
	}
	if r.kubeUnreachable != nil {
		errs = append(errs, r.kubeUnreachable)
	}
	if len(errs) == 0 {
		componentstatus.ReportStatus(host, componentstatus.NewEvent(componentstatus.StatusOK))
		return
	}
	componentstatus.ReportStatus(host, componentstatus.NewRecoverableErrorEvent(errors.Join(errs...)))
}

// Shutdown stops recording: the controller detaches the programs, drains
// the ring buffer and flushes unique-mode counts into a last batch, which
// is sent before Shutdown returns. Safe without Start and twice.
func (r *capabilitiesReceiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.cancel = nil
	r.mu.Unlock()
	var err error
	if cancel != nil {
		cancel()
		select {
		case <-done:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	r.telemetry.Shutdown()
	return err
}

// sink is the controller's sink for one recording; stop is closed at
// Shutdown.
type sink struct {
	r    *capabilitiesReceiver
	stop <-chan struct{}
}

// Write maps a batch to plog.Logs and passes it on. A refused batch is
// retried, then counted as refused; recording goes on.
func (s sink) Write(checks []check.Check) error {
	r := s.r
	logs := r.mapper.Logs(checks)
	n := logs.LogRecordCount()
	ctx := r.obsrecv.StartLogsOp(context.Background())
	err := r.consume(ctx, s.stop, logs)
	r.obsrecv.EndLogsOp(ctx, metadata.Type.String(), n, err)
	if err != nil {
		r.settings.Logger.Warn("log records refused by the next consumer", zap.Int("records", n), zap.Error(err))
	}
	return nil
}

// consume passes logs on, retrying a refusal until stop is closed. The
// consumer gets ctx, which stop does not end: the last batch, written after
// Shutdown, is still offered once.
func (r *capabilitiesReceiver) consume(ctx context.Context, stop <-chan struct{}, logs plog.Logs) error {
	backoff := r.backoff
	for attempt := 1; ; attempt++ {
		err := r.next.ConsumeLogs(ctx, logs)
		if err == nil || consumererror.IsPermanent(err) || attempt == consumeAttempts {
			return err
		}
		wait := time.NewTimer(backoff)
		select {
		case <-wait.C:
		case <-stop:
			wait.Stop()
			return err
		}
		backoff *= 2
	}
}

func (r *capabilitiesReceiver) registerMetrics() error {
	stat := func(pick func(controller.Stats) uint64) metric.Int64Callback {
		return func(_ context.Context, o metric.Int64Observer) error {
			if rec := r.rec.Load(); rec != nil {
				o.Observe(int64(pick((*rec).Stats())))
			}
			return nil
		}
	}
	perCapability := func(pick func(*controller.Stats) *tracer.CapCounts) metric.Int64Callback {
		return func(_ context.Context, o metric.Int64Observer) error {
			if rec := r.rec.Load(); rec != nil {
				s := (*rec).Stats()
				for id, n := range pick(&s) {
					if n > 0 {
						o.Observe(int64(n), metric.WithAttributes(attribute.String("capability", caps.Name(id))))
					}
				}
			}
			return nil
		}
	}
	return errors.Join(
		r.telemetry.RegisterReceiverCapabilitiesEventsLostCallback(stat(func(s controller.Stats) uint64 { return s.Lost })),
		r.telemetry.RegisterReceiverCapabilitiesEventsDecodedCallback(stat(func(s controller.Stats) uint64 { return s.Events })),
		r.telemetry.RegisterReceiverCapabilitiesChecksUnboundCallback(stat(func(s controller.Stats) uint64 { return s.Unbound })),
		r.telemetry.RegisterReceiverCapabilitiesNoauditSkippedCallback(perCapability(func(s *controller.Stats) *tracer.CapCounts { return &s.NoauditSkipped })),
		r.telemetry.RegisterReceiverCapabilitiesUnselectedSkippedCallback(perCapability(func(s *controller.Stats) *tracer.CapCounts { return &s.UnselectedSkipped })),
		r.telemetry.RegisterReceiverCapabilitiesSelectedCgroupsCallback(stat(func(s controller.Stats) uint64 { return uint64(s.SelectedCgroups) })),
		r.telemetry.RegisterReceiverCapabilitiesKubernetesAPIReachableCallback(func(_ context.Context, o metric.Int64Observer) error {
			if s := r.kubeState.Load(); s != 0 {
				reachable := int64(0)
				if kube.State(s-1) == kube.StateSynced {
					reachable = 1
				}
				o.Observe(reachable)
			}
			return nil
		}),
		r.telemetry.RegisterReceiverCapabilitiesAttachedCallback(func(_ context.Context, o metric.Int64Observer) error {
			if rec := r.rec.Load(); rec != nil {
				o.Observe(1, metric.WithAttributes(attribute.String("method", string((*rec).Method()))))
			}
			return nil
		}),
	)
}
