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
	"github.com/capprof/capprof/internal/selection"
)

// Resource is the CapabilityRecording resource.
var Resource = schema.GroupVersionResource{
	Group: v1alpha1.GroupName, Version: v1alpha1.SchemeGroupVersion.Version, Resource: v1alpha1.ResourceCapabilityRecordings,
}

// Rules is where the watcher puts each recording's rules (a
// *selection.Selection).
type Rules interface {
	SetRules(source string, rules []selection.Rule) error
}

// Watcher follows the CapabilityRecordings of every namespace.
type Watcher struct {
	client dynamic.Interface
	rules  Rules
	resync time.Duration
	log    *slog.Logger
	now    func() time.Time

	mu     sync.Mutex
	timers map[string]*time.Timer // window ends, by source
}

// New returns a Watcher that puts the rules of the recordings it sees into
// rules; resync is how often every recording is looked at again.
func New(client dynamic.Interface, rules Rules, resync time.Duration, log *slog.Logger) *Watcher {
	return &Watcher{client: client, rules: rules, resync: resync, log: log, now: time.Now, timers: map[string]*time.Timer{}}
}

// Source names a recording as a selection source.
func Source(namespace, name string) string { return "recording " + namespace + "/" + name }

// Run watches until ctx is done.
func (w *Watcher) Run(ctx context.Context) {
	factory := dynamicinformer.NewDynamicSharedInformerFactory(w.client, w.resync)
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
	informer.RunWithContext(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range w.timers {
		t.Stop()
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
	rules, end, err := RulesOf(rec)
	w.mu.Lock()
	defer w.mu.Unlock()
	if t := w.timers[source]; t != nil {
		t.Stop()
	}
	if err != nil {
		w.log.Warn("capabilityrecording selects nothing", "recording", source, "error", err)
		w.setRules(source, nil)
		return
	}
	if !end.IsZero() {
		left := end.Sub(w.now())
		if left <= 0 {
			w.setRules(source, nil)
			return
		}
		w.timers[source] = time.AfterFunc(left, func() {
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
}

// setRules passes a source's rules on; the caller holds mu.
func (w *Watcher) setRules(source string, rules []selection.Rule) {
	if err := w.rules.SetRules(source, rules); err != nil {
		w.log.Warn("cgroup selection", "recording", source, "error", err)
	}
	if rules == nil {
		delete(w.timers, source)
	}
	w.log.Info("capabilityrecording", "recording", source, "selecting", rules != nil)
}

// RulesOf is a recording's rule and the end of its window (zero when it
// has none).
func RulesOf(rec *v1alpha1.CapabilityRecording) ([]selection.Rule, time.Time, error) {
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
