package recording

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/capprof/capprof/api/v1alpha1"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/selection"
)

// Resource is the CapabilityRecording resource.
var Resource = schema.GroupVersionResource{
	Group: v1alpha1.GroupName, Version: v1alpha1.SchemeGroupVersion.Version, Resource: v1alpha1.ResourceCapabilityRecordings,
}

// Selection is where recordings' rules go and what they select comes from
// (a *selection.Selection).
type Selection interface {
	SetRules(source string, rules []selection.Rule) error
	Targets(source string) []selection.Target
}

// Config configures a Watcher.
type Config struct {
	Client    dynamic.Interface
	Selection Selection
	// Resync is how often the informer processes every recording again.
	Resync time.Duration
	// Node, when set, is the node whose entry of each recording's status
	// this watcher writes, with the summary, every StatusInterval.
	Node           string
	StatusInterval time.Duration
	// Metadata returns the pod-level metadata of a pod on the node, its
	// owners resolved, or nil while it is not known: it names the
	// workload containers' profiles.
	Metadata func(podUID string) *check.Kubernetes
	Logger   *slog.Logger
}

// Watcher follows the CapabilityRecordings of every namespace.
type Watcher struct {
	cfg    Config
	log    *slog.Logger
	status *statusWriter

	mu     sync.Mutex
	timers map[string]*time.Timer // window ends, by source
	rules  map[string]string      // the rules set, as they print, by source
}

// New returns a Watcher; nothing is contacted before Run.
func New(cfg Config) *Watcher {
	w := &Watcher{cfg: cfg, log: cfg.Logger, timers: map[string]*time.Timer{}, rules: map[string]string{}}
	if cfg.Node != "" {
		w.status = &statusWriter{
			client: cfg.Client, node: cfg.Node, targets: cfg.Selection.Targets, metadata: cfg.Metadata, now: time.Now,
			recorded: map[string]map[string]bool{}, written: map[string]v1alpha1.RecordingNodeStatus{},
		}
	}
	return w
}

// Source names a recording as a selection source.
func Source(namespace, name string) string { return "recording " + namespace + "/" + name }

// Run watches until ctx is done, writing status meanwhile when Node is set.
func (w *Watcher) Run(ctx context.Context) {
	factory := dynamicinformer.NewDynamicSharedInformerFactory(w.cfg.Client, w.cfg.Resync)
	informer := factory.ForResource(Resource).Informer()
	_ = informer.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		w.log.Debug("capabilityrecording watch ended", "error", err)
	})
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    w.apply,
		UpdateFunc: func(_, obj any) { w.apply(obj) },
		DeleteFunc: w.remove,
	}); err != nil {
		w.log.Error("capabilityrecording informer", "error", err)
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		informer.RunWithContext(ctx)
	}()
	defer func() {
		<-done
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, t := range w.timers {
			t.Stop()
		}
	}()
	if w.status == nil || !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		return
	}
	t := time.NewTicker(w.cfg.StatusInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, obj := range informer.GetStore().List() {
				w.writeStatus(ctx, obj)
			}
		}
	}
}

// writeStatus writes one recording's status from this node; a window it
// finds ended stops the recording's selection here at once.
func (w *Watcher) writeStatus(ctx context.Context, obj any) {
	rec, err := decode(obj)
	if err != nil {
		return // apply logged it
	}
	ended, err := w.status.update(ctx, rec)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("capabilityrecording status", "recording", Source(rec.Namespace, rec.Name), "error", err)
		}
		return
	}
	if ended {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.setRules(Source(rec.Namespace, rec.Name), nil)
	}
}

// apply sets a recording's rules while its window is open, and arms a
// timer for its end.
func (w *Watcher) apply(obj any) {
	rec, err := decode(obj)
	if err != nil {
		w.log.Warn("capabilityrecording", "error", err)
		return
	}
	source := Source(rec.Namespace, rec.Name)
	rules, end, err := RulesOf(rec, time.Now())
	w.mu.Lock()
	defer w.mu.Unlock()
	if t := w.timers[source]; t != nil {
		t.Stop()
		delete(w.timers, source)
	}
	if err != nil {
		w.log.Warn("capabilityrecording selects nothing", "recording", source, "error", err)
		w.setRules(source, nil)
		return
	}
	if !end.IsZero() {
		w.timers[source] = time.AfterFunc(time.Until(end), func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.log.Info("capabilityrecording window ended", "recording", source)
			w.setRules(source, nil)
		})
	}
	w.setRules(source, rules)
}

func (w *Watcher) remove(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	source := Source(u.GetNamespace(), u.GetName())
	w.mu.Lock()
	defer w.mu.Unlock()
	if t := w.timers[source]; t != nil {
		t.Stop()
		delete(w.timers, source)
	}
	w.setRules(source, nil)
	if w.status != nil {
		w.status.forget(source)
	}
}

// setRules passes a source's rules on when they changed; the caller holds
// mu.
func (w *Watcher) setRules(source string, rules []selection.Rule) {
	text := fmt.Sprint(rules)
	if rules == nil {
		text = ""
	}
	if prev, ok := w.rules[source]; ok && prev == text || !ok && rules == nil {
		return
	}
	if err := w.cfg.Selection.SetRules(source, rules); err != nil {
		w.log.Warn("cgroup selection", "recording", source, "error", err)
	}
	if rules == nil {
		delete(w.rules, source)
	} else {
		w.rules[source] = text
	}
	w.log.Info("capabilityrecording", "recording", source, "selecting", rules != nil)
}

// RulesOf is a recording's rule and the end of its window (zero when it
// has no duration) at now; no rule when the window has ended.
func RulesOf(rec *v1alpha1.CapabilityRecording, now time.Time) ([]selection.Rule, time.Time, error) {
	if endReason(rec, now) != "" {
		return nil, time.Time{}, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(&rec.Spec.PodSelector)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("pod selector: %w", err)
	}
	var end time.Time
	if d := rec.Spec.Duration; d != nil {
		end = rec.CreationTimestamp.Add(d.Duration)
	}
	return []selection.Rule{{Namespace: rec.Namespace, Selector: sel, Containers: rec.Spec.Containers}}, end, nil
}

func decode(obj any) (*v1alpha1.CapabilityRecording, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("unexpected object %T", obj)
	}
	var rec v1alpha1.CapabilityRecording
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &rec); err != nil {
		return nil, fmt.Errorf("decode %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	return &rec, nil
}
