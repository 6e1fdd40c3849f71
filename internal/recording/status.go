package recording

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"

	"github.com/capprof/capprof/api/v1alpha1"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/profile"
	"github.com/capprof/capprof/internal/selection"
)

// SummaryFieldManager owns a recording's summary status: every agent
// applies the same function of the object under this one name, so their
// writes never conflict; the resourceVersion they read guards against a
// summary computed from an older object.
const SummaryFieldManager = "capprof-agent"

// maxFieldManager is the API server's limit on a field manager's length.
const maxFieldManager = 128

// NodeFieldManager owns one node's entry of status.nodes.
func NodeFieldManager(node string) string {
	m := SummaryFieldManager + "." + node
	if len(m) <= maxFieldManager {
		return m
	}
	sum := sha256.Sum256([]byte(node))
	return m[:maxFieldManager-11] + "-" + hex.EncodeToString(sum[:5])
}

// profileResource is the CapabilityProfile resource, read for the Stable
// condition and to name the profiles that exist.
var profileResource = Resource.GroupVersion().WithResource(v1alpha1.ResourceCapabilityProfiles)

// statusWriter writes what one node records for each recording, and the
// summary.
type statusWriter struct {
	client   dynamic.Interface
	node     string
	targets  func(source string) []selection.Target
	metadata func(podUID string) *check.Kubernetes
	now      func() time.Time

	// recorded holds, by source, the profile names of the workload
	// containers this node selected during the window.
	recorded map[string]map[string]bool
	// written is the node entry last applied, by source.
	written map[string]v1alpha1.RecordingNodeStatus
}

// forget drops what is kept for a deleted recording.
func (s *statusWriter) forget(source string) {
	delete(s.recorded, source)
	delete(s.written, source)
}

// update writes this node's entry of the recording's status when it
// changed, then the summary when it differs from the object's; it reports
// whether the window has ended. rec is the informer's copy: nothing is
// read from the API server but the profiles an ending window names.
func (s *statusWriter) update(ctx context.Context, rec *v1alpha1.CapabilityRecording) (ended bool, err error) {
	source := Source(rec.Namespace, rec.Name)
	entry := s.nodeEntry(source, rec)
	if (entry.Pods > 0 || len(entry.Recorded) > 0) && !reflect.DeepEqual(entry, s.written[source]) {
		if rec, err = s.applyNode(ctx, rec, entry); err != nil {
			return false, err
		}
		s.written[source] = entry
	}
	return s.applySummary(ctx, rec)
}

// nodeEntry is the node's entry now: the selected pods, their cgroups in
// the kernel and their workload containers' profile names.
func (s *statusWriter) nodeEntry(source string, rec *v1alpha1.CapabilityRecording) v1alpha1.RecordingNodeStatus {
	rc, ok := s.recorded[source]
	if !ok {
		// After a restart, what this node recorded before is in the object.
		rc = map[string]bool{}
		for _, n := range rec.Status.Nodes {
			if n.Node == s.node {
				for _, w := range n.Recorded {
					rc[w] = true
				}
			}
		}
		s.recorded[source] = rc
	}
	entry := v1alpha1.RecordingNodeStatus{Node: s.node}
	pods, cgroups, workloads := map[string]bool{}, map[uint64]bool{}, map[string]bool{}
	for _, t := range s.targets(source) {
		pods[t.PodUID] = true
		if t.CgroupID != 0 {
			cgroups[t.CgroupID] = true
		}
		m := s.metadata(t.PodUID)
		if m == nil {
			continue // the pod's owners are not known yet: next time
		}
		for _, c := range t.Containers {
			mc := *m
			mc.ContainerName = c
			if k, ok := profile.KubernetesKeyOf(&mc); ok {
				workloads[k.ObjectName()] = true
				rc[k.ObjectName()] = true
			}
		}
	}
	entry.Pods, entry.Cgroups = int32(len(pods)), int32(len(cgroups))
	entry.Workloads = slices.Sorted(maps.Keys(workloads))
	entry.Recorded = slices.Sorted(maps.Keys(rc))
	return entry
}

// applyNode applies the node's entry and returns the object as it is
// after.
func (s *statusWriter) applyNode(ctx context.Context, rec *v1alpha1.CapabilityRecording, entry v1alpha1.RecordingNodeStatus) (*v1alpha1.CapabilityRecording, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&entry)
	if err != nil {
		return nil, fmt.Errorf("encode node status: %w", err)
	}
	obj := applyObject(rec.Namespace, rec.Name, "", map[string]any{"nodes": []any{m}})
	u, err := s.client.Resource(Resource).Namespace(rec.Namespace).ApplyStatus(ctx, rec.Name, obj,
		metav1.ApplyOptions{FieldManager: NodeFieldManager(s.node), Force: true})
	if err != nil {
		return nil, fmt.Errorf("apply node status of %s/%s: %w", rec.Namespace, rec.Name, err)
	}
	return decode(u)
}

// applySummary computes the summary from rec and applies it when it
// differs, guarded by rec's resourceVersion: when another agent changed
// the object meanwhile, the next round computes it from theirs.
func (s *statusWriter) applySummary(ctx context.Context, rec *v1alpha1.CapabilityRecording) (ended bool, err error) {
	want, ended, err := s.summary(ctx, rec)
	if err != nil || summaryEqual(&rec.Status, &want) {
		return ended, err
	}
	st, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&want)
	if err != nil {
		return false, fmt.Errorf("encode summary status: %w", err)
	}
	delete(st, "nodes")
	obj := applyObject(rec.Namespace, rec.Name, rec.ResourceVersion, st)
	_, err = s.client.Resource(Resource).Namespace(rec.Namespace).ApplyStatus(ctx, rec.Name, obj,
		metav1.ApplyOptions{FieldManager: SummaryFieldManager, Force: true})
	if apierrors.IsConflict(err) {
		return ended, nil
	}
	if err != nil {
		return false, fmt.Errorf("apply summary status of %s/%s: %w", rec.Namespace, rec.Name, err)
	}
	return ended, nil
}

// summary is the status summary of rec's object as it is: the union of
// the nodes' entries, and the window.
func (s *statusWriter) summary(ctx context.Context, rec *v1alpha1.CapabilityRecording) (v1alpha1.CapabilityRecordingStatus, bool, error) {
	active, recorded := map[string]bool{}, map[string]bool{}
	for _, n := range rec.Status.Nodes {
		for _, w := range n.Workloads {
			active[w] = true
		}
		for _, w := range n.Recorded {
			recorded[w] = true
		}
	}
	reason := endReason(rec, s.now())
	// Only the nodes that recorded for it look at the profiles: one is
	// enough to end the window for all.
	if reason == "" && rec.Spec.UntilStable && len(s.recorded[Source(rec.Namespace, rec.Name)]) > 0 {
		stable, err := s.allStable(ctx, rec.Namespace, slices.Sorted(maps.Keys(recorded)))
		if err != nil {
			return v1alpha1.CapabilityRecordingStatus{}, false, err
		}
		if stable {
			reason = v1alpha1.ReasonProfilesStable
		}
	}
	st := v1alpha1.CapabilityRecordingStatus{Conditions: slices.Clone(rec.Status.Conditions)}
	if reason == "" {
		st.ActiveWorkloads = int32(len(active))
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: v1alpha1.ConditionRecording, Status: metav1.ConditionTrue,
			Reason: v1alpha1.ReasonWindowOpen, Message: fmt.Sprintf("%d workload containers selected", len(active))})
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: v1alpha1.ConditionComplete, Status: metav1.ConditionFalse,
			Reason: v1alpha1.ReasonWindowOpen})
		return st, false, nil
	}
	var err error
	if st.Profiles, err = s.existing(ctx, rec.Namespace, slices.Sorted(maps.Keys(recorded))); err != nil {
		return v1alpha1.CapabilityRecordingStatus{}, false, err
	}
	msg := fmt.Sprintf("%d workload containers recorded, %d profiles", len(recorded), len(st.Profiles))
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: v1alpha1.ConditionRecording, Status: metav1.ConditionFalse,
		Reason: reason, Message: msg})
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: v1alpha1.ConditionComplete, Status: metav1.ConditionTrue,
		Reason: reason, Message: msg})
	return st, true, nil
}

// endReason says why rec's window has ended, "" while it is open: its
// duration elapsed, or an agent found its profiles stable.
func endReason(rec *v1alpha1.CapabilityRecording, now time.Time) string {
	if c := meta.FindStatusCondition(rec.Status.Conditions, v1alpha1.ConditionComplete); c != nil && c.Status == metav1.ConditionTrue {
		return c.Reason
	}
	if d := rec.Spec.Duration; d != nil && !now.Before(rec.CreationTimestamp.Add(d.Duration)) {
		return v1alpha1.ReasonDurationElapsed
	}
	return ""
}

// allStable reports whether every named CapabilityProfile exists and is
// Stable.
func (s *statusWriter) allStable(ctx context.Context, namespace string, names []string) (bool, error) {
	for _, name := range names {
		u, err := s.client.Resource(profileResource).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("get capabilityprofile %s/%s: %w", namespace, name, err)
		}
		var p v1alpha1.CapabilityProfile
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p); err != nil {
			return false, fmt.Errorf("decode capabilityprofile %s/%s: %w", namespace, name, err)
		}
		if !meta.IsStatusConditionTrue(p.Status.Conditions, v1alpha1.ConditionStable) {
			return false, nil
		}
	}
	return true, nil
}

// existing returns the named CapabilityProfiles that exist.
func (s *statusWriter) existing(ctx context.Context, namespace string, names []string) ([]string, error) {
	var out []string
	for _, name := range names {
		_, err := s.client.Resource(profileResource).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get capabilityprofile %s/%s: %w", namespace, name, err)
		}
		out = append(out, name)
	}
	return out, nil
}

// summaryEqual compares the summary fields, conditions without their
// transition times (SetStatusCondition keeps them when the status holds).
func summaryEqual(a, b *v1alpha1.CapabilityRecordingStatus) bool {
	if a.ActiveWorkloads != b.ActiveWorkloads || !slices.Equal(a.Profiles, b.Profiles) || len(a.Conditions) != len(b.Conditions) {
		return false
	}
	for _, c := range b.Conditions {
		o := meta.FindStatusCondition(a.Conditions, c.Type)
		if o == nil || o.Status != c.Status || o.Reason != c.Reason || o.Message != c.Message {
			return false
		}
	}
	return true
}

// applyObject is the apply configuration of a recording's status;
// resourceVersion, when set, makes the apply fail if the object changed.
func applyObject(namespace, name, resourceVersion string, status map[string]any) *unstructured.Unstructured {
	md := map[string]any{"name": name, "namespace": namespace}
	if resourceVersion != "" {
		md["resourceVersion"] = resourceVersion
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.SchemeGroupVersion.String(), "kind": "CapabilityRecording",
		"metadata": md, "status": status,
	}}
}
