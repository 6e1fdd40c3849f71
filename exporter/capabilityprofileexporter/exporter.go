package capabilityprofileexporter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/capprof/capprof/api/v1alpha1"
	"github.com/capprof/capprof/exporter/capabilityprofileexporter/internal/metadata"
	"github.com/capprof/capprof/internal/profile"
	"github.com/capprof/capprof/internal/profileobject"
)

// fieldManager owns what the exporter applies. Every writer uses the same
// one: a write merges the status it read (resourceVersion precondition), so
// it carries the other writers' sources rather than dropping them.
const fieldManager = "capprof-capability-profile-k8s"

// maxConflicts bounds the re-merges of one write that keeps losing races;
// the batch then fails and the exporter helper retries it after a back-off.
const maxConflicts = 16

var gvr = v1alpha1.SchemeGroupVersion.WithResource(v1alpha1.ResourceCapabilityProfiles)

type profileExporter struct {
	cfg       *Config
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	client    dynamic.Interface // set by start
	now       func() time.Time
}

func newExporter(set exporter.Settings, cfg *Config) (*profileExporter, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	return &profileExporter{cfg: cfg, logger: set.Logger, telemetry: tb, now: time.Now}, nil
}

// start builds the API client; it connects to nothing yet.
func (e *profileExporter) start(context.Context, component.Host) error {
	restCfg, err := restConfig(e.cfg.Kubeconfig)
	if err != nil {
		return err
	}
	if e.client, err = dynamic.NewForConfig(restCfg); err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	return nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster config (set kubeconfig outside a pod): %w", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	return cfg, nil
}

func (e *profileExporter) shutdown(context.Context) error {
	e.telemetry.Shutdown()
	return nil
}

// pushLogs writes the profile of every profile record of a Kubernetes
// workload; other records are counted and ignored. A failed write fails the
// batch, which the exporter helper retries: writes are idempotent (a writer
// replaces its own source), so the profiles already written do no harm.
func (e *profileExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	var errs []error
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				p, ok := profileOfRecord(lrs.At(k))
				if !ok {
					e.telemetry.ExporterCapabilityProfileK8sRecordsIgnored.Add(ctx, 1)
					continue
				}
				if err := e.write(ctx, &p); err != nil {
					e.telemetry.ExporterCapabilityProfileK8sWriteFailures.Add(ctx, 1)
					e.logger.Warn("write CapabilityProfile", zap.String("profile", p.ID), zap.Error(err))
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// profileOfRecord decodes the profile of a linux.capability.profile record
// of a Kubernetes workload.
func profileOfRecord(lr plog.LogRecord) (profile.Profile, bool) {
	if lr.EventName() != profile.EventProfile {
		return profile.Profile{}, false
	}
	js, ok := lr.Attributes().Get(profile.AttrProfileJSON)
	if !ok {
		return profile.Profile{}, false
	}
	p, err := profile.UnmarshalOne(js.Str())
	if err != nil || p.Key.Kind() != profile.KeyKubernetes || p.Key.Namespace == "" {
		return profile.Profile{}, false
	}
	return p, true
}

// write merges one writer's profile into its CapabilityProfile: it reads
// the object (creating it when missing), merges, and applies the status
// with the resourceVersion it read, so that a concurrent writer's update
// makes it read and merge again instead of being overwritten.
func (e *profileExporter) write(ctx context.Context, p *profile.Profile) error {
	name, ns := p.Key.ObjectName(), p.Key.Namespace
	res := e.client.Resource(gvr).Namespace(ns)
	opts := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	for conflicts := 0; ; conflicts++ {
		cur, err := res.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			spec := profileobject.SpecOf(p.Key)
			var u *unstructured.Unstructured
			if u, err = applyObject(name, ns, "", "spec", &spec); err == nil {
				cur, err = res.Apply(ctx, name, u, opts)
			}
		}
		if err != nil {
			return fmt.Errorf("read %s/%s: %w", ns, name, err)
		}
		var obj v1alpha1.CapabilityProfile
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(cur.Object, &obj); err != nil {
			return fmt.Errorf("decode %s/%s: %w", ns, name, err)
		}
		now := e.now()
		st := mergeStatus(profileobject.KeyOf(ns, &obj.Spec), &obj.Status, profileobject.SourceOf(p, e.cfg.Writer, now), now, e.cfg.StableAfter)
		u, err := applyObject(name, ns, obj.ResourceVersion, "status", &st)
		if err != nil {
			return fmt.Errorf("apply status of %s/%s: %w", ns, name, err)
		}
		_, err = res.ApplyStatus(ctx, name, u, opts)
		switch {
		case err == nil:
			e.telemetry.ExporterCapabilityProfileK8sWrites.Add(ctx, 1)
			return nil
		case apierrors.IsConflict(err) && conflicts < maxConflicts:
			e.telemetry.ExporterCapabilityProfileK8sWriteConflicts.Add(ctx, 1)
		default:
			return fmt.Errorf("apply status of %s/%s: %w", ns, name, err)
		}
	}
}

// applyObject is an apply configuration of a CapabilityProfile with one
// top-level field (spec or status) and, when resourceVersion is set, that
// version as a precondition. value points to the spec or status.
func applyObject(name, namespace, resourceVersion, field string, value any) (*unstructured.Unstructured, error) {
	meta := map[string]any{"name": name, "namespace": namespace}
	if resourceVersion != "" {
		meta["resourceVersion"] = resourceVersion
	}
	v, err := runtime.DefaultUnstructuredConverter.ToUnstructured(value)
	if err != nil {
		return nil, fmt.Errorf("convert %s: %w", field, err)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.SchemeGroupVersion.String(),
		"kind":       "CapabilityProfile",
		"metadata":   meta,
		field:        v,
	}}, nil
}
