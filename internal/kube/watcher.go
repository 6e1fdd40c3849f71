package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/capprof/capprof/internal/check"
)

// Watcher keeps the metadata of the node's pods. Lookup and Changed are
// safe for concurrent use, also before and after Run.
type Watcher struct {
	cfg     Config
	log     *slog.Logger
	client  kubernetes.Interface
	index   *index
	owners  *ownerResolver
	state   *stateTracker
	changed chan struct{}
}

// New validates cfg and builds the API client; nothing is contacted
// before Run.
func New(cfg Config) (*Watcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rc, err := cfg.RESTConfig()
	if err != nil {
		return nil, err
	}
	rc.UserAgent = "capprof"
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return NewForClient(client, cfg)
}

// NewForClient is New with a given client (cfg's Auth and Kubeconfig are
// not used).
func NewForClient(client kubernetes.Interface, cfg Config) (*Watcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{
		cfg:     cfg,
		log:     log.With("node", cfg.NodeName),
		client:  client,
		index:   newIndex(cfg.Retain),
		owners:  newOwnerResolver(client, cfg.RequestTimeout),
		changed: make(chan struct{}, 1),
	}
	w.state = &stateTracker{onChange: w.stateChanged}
	return w, nil
}

// Lookup returns the metadata of a container by id (runtime prefix
// stripped), else of its pod by UID, and how much it found.
func (w *Watcher) Lookup(containerID, podUID string) (*check.Kubernetes, Match) {
	return w.index.lookup(containerID, podUID)
}

// Changed receives a value after pods were added or updated: held checks
// may now find their pod.
func (w *Watcher) Changed() <-chan struct{} { return w.changed }

// State is the current view of the API server.
func (w *Watcher) State() State { return w.state.get() }

// Run watches the node's pods until ctx is done. An unreachable API server
// does not end it: the informer retries, and the state says so.
func (w *Watcher) Run(ctx context.Context) {
	selector := fields.OneTermEqualSelector("spec.nodeName", w.cfg.NodeName).String()
	pods := w.client.CoreV1().Pods(metav1.NamespaceAll)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = selector
			obj, err := pods.List(ctx, opts)
			w.observe("list", err)
			return obj, err
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = selector
			wi, err := pods.Watch(ctx, opts)
			w.observe("watch", err)
			return wi, err
		},
	}
	informer := cache.NewSharedIndexInformerWithOptions(
		cache.ToListWatcherWithWatchListSemantics(lw, w.client),
		&corev1.Pod{},
		cache.SharedIndexInformerOptions{ResyncPeriod: w.cfg.Resync, ObjectDescription: "pods on node " + w.cfg.NodeName},
	)
	// A watch that breaks (the API server going away mid-stream) ends
	// here before the informer lists or watches again through lw.
	_ = informer.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		w.log.Debug("pod watch ended", "error", err)
	})
	if _, err := informer.AddEventHandlerWithOptions(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.upsert(ctx, obj) },
		UpdateFunc: func(_, obj any) { w.upsert(ctx, obj) },
		DeleteFunc: w.remove,
	}, cache.HandlerOptions{}); err != nil {
		w.log.Error("pod informer", "error", err)
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		informer.RunWithContext(ctx)
	}()
	if cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		w.state.initialSync()
	}
	sweep := time.NewTicker(w.cfg.Retain / 2)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			return
		case now := <-sweep.C:
			w.owners.forget(w.index.sweep(now))
		}
	}
}

// observe turns list and watch outcomes into the state. A context ending
// is the watcher stopping, not the API server.
func (w *Watcher) observe(what string, err error) {
	switch {
	case err == nil:
		w.state.succeeded()
	case errors.Is(err, context.Canceled):
	default:
		w.state.failed(fmt.Errorf("%s pods: %w", what, err))
	}
}

// stateChanged logs a state change and passes it on.
func (w *Watcher) stateChanged(s State, err error) {
	switch s {
	case StateSynced:
		pods, ctrs := w.index.size()
		w.log.Info("kubernetes pod metadata in sync", "pods", pods, "containers", ctrs)
	case StateUnreachable:
		w.log.Warn("kubernetes API server unreachable: checks keep the pod metadata already known; retrying", "error", err)
	}
	if w.cfg.OnState != nil {
		w.cfg.OnState(s, err)
	}
}

// upsert indexes an added or updated pod. Owners are looked up again only
// when the pod's last lookup failed.
func (w *Watcher) upsert(ctx context.Context, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	uid := string(pod.UID)
	var own owners
	if prev, ok := w.index.entry(uid); ok && prev.ownersResolved {
		if prev.resourceVersion == pod.ResourceVersion {
			return // a resync of an unchanged pod
		}
		own = ownersOf(prev)
	} else {
		var err error
		if own, err = w.owners.resolve(ctx, pod); err != nil {
			w.log.Warn("pod owner lookup failed; retried at the next update", "pod", pod.Namespace+"/"+pod.Name, "error", err)
		}
	}
	key := pod.Namespace + "/" + pod.Name
	w.index.put(newPodEntry(pod, own, w.cfg.Labels), key)
	if w.cfg.OnPod != nil {
		w.cfg.OnPod(key, pod)
	}
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// ownersOf returns the owners an entry was built with.
func ownersOf(e *podEntry) owners {
	p := e.pod
	return owners{
		Deployment: p.Deployment, ReplicaSet: p.ReplicaSet, DaemonSet: p.DaemonSet,
		StatefulSet: p.StatefulSet, Job: p.Job, CronJob: p.CronJob,
		through: e.ownerUIDs, resolved: e.ownersResolved,
	}
}

func (w *Watcher) remove(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	uid := ""
	if pod, ok := obj.(*corev1.Pod); ok {
		uid = string(pod.UID)
	}
	w.index.markDeleted(uid, key, time.Now())
	if w.cfg.OnPod != nil {
		w.cfg.OnPod(key, nil)
	}
}
