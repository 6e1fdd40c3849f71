package kube

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// owners are the workloads a pod belongs to.
type owners struct {
	Deployment, ReplicaSet, DaemonSet, StatefulSet, Job, CronJob string
	// through are the UIDs of the ReplicaSet or Job whose own owner was
	// looked up.
	through []string
	// resolved is false when such a lookup failed.
	resolved bool
}

// ownerResolver finds a pod's workload. The pod names its direct
// controller; a ReplicaSet's Deployment and a Job's CronJob take a GET of
// the ReplicaSet or Job. Those are cached by UID: a node's agent asks only
// for the ReplicaSets and Jobs of its own pods, once each, instead of
// watching every one in the cluster.
type ownerResolver struct {
	client  kubernetes.Interface
	timeout time.Duration

	mu      sync.Mutex
	parents map[types.UID]string // ReplicaSet or Job UID -> its controller's name ("" for none)
}

func newOwnerResolver(client kubernetes.Interface, timeout time.Duration) *ownerResolver {
	return &ownerResolver{client: client, timeout: timeout, parents: make(map[types.UID]string)}
}

// resolve returns the pod's owners. A failed lookup leaves the parent
// empty (for a ReplicaSet, the Deployment is then derived from the
// pod-template-hash label, as the Deployment controller names its
// ReplicaSets) and owners.resolved false.
func (r *ownerResolver) resolve(ctx context.Context, pod *corev1.Pod) (owners, error) {
	o := owners{resolved: true}
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return o, nil
	}
	switch ref.Kind {
	case "DaemonSet":
		o.DaemonSet = ref.Name
	case "StatefulSet":
		o.StatefulSet = ref.Name
	case "ReplicaSet":
		o.ReplicaSet = ref.Name
		o.through = []string{string(ref.UID)}
		dep, err := r.parent(ctx, pod.Namespace, ref, "Deployment")
		if err != nil {
			o.resolved = false
			if h := pod.Labels["pod-template-hash"]; h != "" {
				o.Deployment, _ = strings.CutSuffix(ref.Name, "-"+h)
				if o.Deployment == ref.Name {
					o.Deployment = ""
				}
			}
			return o, err
		}
		o.Deployment = dep
	case "Job":
		o.Job = ref.Name
		o.through = []string{string(ref.UID)}
		cj, err := r.parent(ctx, pod.Namespace, ref, "CronJob")
		if err != nil {
			o.resolved = false
			return o, err
		}
		o.CronJob = cj
	}
	return o, nil
}

// parent returns the name of the ReplicaSet's or Job's controller if it is
// of kind want, else "".
func (r *ownerResolver) parent(ctx context.Context, namespace string, ref *metav1.OwnerReference, want string) (string, error) {
	r.mu.Lock()
	name, ok := r.parents[ref.UID]
	r.mu.Unlock()
	if ok {
		return name, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var meta metav1.Object
	var err error
	switch ref.Kind {
	case "ReplicaSet":
		meta, err = r.client.AppsV1().ReplicaSets(namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	case "Job":
		meta, err = r.client.BatchV1().Jobs(namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	default:
		return "", fmt.Errorf("owner %s %s/%s: not a ReplicaSet or Job", ref.Kind, namespace, ref.Name)
	}
	if err != nil {
		return "", fmt.Errorf("get %s %s/%s: %w", ref.Kind, namespace, ref.Name, err)
	}
	if meta.GetUID() != ref.UID {
		// Deleted and recreated under the same name: not the pod's owner.
		return "", fmt.Errorf("get %s %s/%s: uid %s, the pod's owner is %s", ref.Kind, namespace, ref.Name, meta.GetUID(), ref.UID)
	}
	if c := metav1.GetControllerOfNoCopy(meta); c != nil && c.Kind == want {
		name = c.Name
	}
	r.mu.Lock()
	r.parents[ref.UID] = name
	r.mu.Unlock()
	return name, nil
}

// forget drops the cached parents of these ReplicaSet or Job UIDs.
func (r *ownerResolver) forget(uids []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, uid := range uids {
		delete(r.parents, types.UID(uid))
	}
}
