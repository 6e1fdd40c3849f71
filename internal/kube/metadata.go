package kube

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/capprof/capprof/internal/check"
)

// mirrorAnnotation names the static pod a mirror pod stands for: its value
// is the hash kubelet names the static pod's cgroup after.
const mirrorAnnotation = "kubernetes.io/config.mirror"

// podEntry is what one pod contributes to the index.
type podEntry struct {
	uid string
	// cgroupUID is the UID the pod's cgroup is named after when it is not
	// uid: a static pod's manifest hash in dashed form.
	cgroupUID string
	// pod is the pod-level metadata, for checks of a container the status
	// does not list (the sandbox, or a container just being created).
	pod *check.Kubernetes
	// containers holds each container's metadata by container id.
	containers map[string]*check.Kubernetes
	// carried marks the ids of containers that index.put kept from the
	// previous entry though the status no longer listed them; they are
	// not carried again, so a crash-looping pod keeps one generation of
	// ids beyond what its status lists, not one per restart.
	carried map[string]bool
	// complete: every container of the spec has an id in the status, so a
	// container id not among them will never be listed (a sandbox).
	complete bool
	// ownerUIDs are the ReplicaSet and Job this pod's owners were resolved
	// through, so that their cache entries can go with their last pod.
	ownerUIDs []string
	// ownersResolved is false when an owner lookup failed: the next update
	// of the pod (at the latest the informer's resync) tries again.
	ownersResolved  bool
	resourceVersion string
}

// newPodEntry turns a pod and its resolved owners into index entries.
func newPodEntry(pod *corev1.Pod, own owners, labels Labels) *podEntry {
	base := check.Kubernetes{
		Namespace:   pod.Namespace,
		PodName:     pod.Name,
		PodUID:      string(pod.UID),
		NodeName:    pod.Spec.NodeName,
		Deployment:  own.Deployment,
		ReplicaSet:  own.ReplicaSet,
		DaemonSet:   own.DaemonSet,
		StatefulSet: own.StatefulSet,
		Job:         own.Job,
		CronJob:     own.CronJob,
		Labels:      labels.selectFrom(pod.Labels),
	}
	podLevel := base
	e := &podEntry{
		uid:             string(pod.UID),
		cgroupUID:       mirrorUID(pod),
		pod:             &podLevel,
		containers:      make(map[string]*check.Kubernetes),
		complete:        true,
		ownerUIDs:       own.through,
		ownersResolved:  own.resolved,
		resourceVersion: pod.ResourceVersion,
	}
	specs := containerSpecs(pod)
	for _, statuses := range [...][]corev1.ContainerStatus{
		pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses, pod.Status.EphemeralContainerStatuses,
	} {
		for i := range statuses {
			st := &statuses[i]
			spec := specs[st.Name]
			delete(specs, st.Name)
			id := containerID(st.ContainerID)
			if id == "" {
				e.complete = false
				continue
			}
			m := base
			m.ContainerName = st.Name
			image := st.Image
			if spec.image != "" {
				image = spec.image // as declared, rather than as resolved
			}
			m.ImageName, m.ImageTag = splitImage(image)
			m.ImageID = st.ImageID
			m.Declared = declared(spec.securityContext)
			e.containers[id] = &m
			// A restarted container's previous instance may still have
			// records in flight.
			if t := st.LastTerminationState.Terminated; t != nil {
				if prev := containerID(t.ContainerID); prev != "" && prev != id {
					e.containers[prev] = &m
				}
			}
		}
	}
	if len(specs) > 0 {
		e.complete = false // containers without any status yet
	}
	return e
}

type containerSpec struct {
	image           string
	securityContext *corev1.SecurityContext
}

// containerSpecs maps every container of the pod's spec by name (names are
// unique across the three lists).
func containerSpecs(pod *corev1.Pod) map[string]containerSpec {
	specs := make(map[string]containerSpec, len(pod.Spec.InitContainers)+len(pod.Spec.Containers)+len(pod.Spec.EphemeralContainers))
	for _, c := range pod.Spec.InitContainers {
		specs[c.Name] = containerSpec{c.Image, c.SecurityContext}
	}
	for _, c := range pod.Spec.Containers {
		specs[c.Name] = containerSpec{c.Image, c.SecurityContext}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		specs[c.Name] = containerSpec{c.Image, c.SecurityContext}
	}
	return specs
}

// declared is the capability part of a container's securityContext; a
// container without one declared empty lists and privileged false, which
// is what the runtime then applies (its default set).
func declared(sc *corev1.SecurityContext) *check.SecurityContext {
	d := &check.SecurityContext{Add: []string{}, Drop: []string{}}
	if sc == nil {
		return d
	}
	if sc.Privileged != nil {
		d.Privileged = *sc.Privileged
	}
	if c := sc.Capabilities; c != nil {
		for _, a := range c.Add {
			d.Add = append(d.Add, string(a))
		}
		for _, a := range c.Drop {
			d.Drop = append(d.Drop, string(a))
		}
	}
	return d
}

// containerID strips the runtime prefix of a status's container id
// ("containerd://<id>", "cri-o://<id>", "docker://<id>").
func containerID(s string) string {
	if _, id, ok := strings.Cut(s, "://"); ok {
		return id
	}
	return s
}

// splitImage splits an image reference into name and tag: the tag is what
// follows the last ':' after the last '/' (a registry's port is not a tag);
// a digest is dropped; without tag or digest the runtime pulls "latest".
func splitImage(ref string) (name, tag string) {
	name, _, hasDigest := strings.Cut(ref, "@")
	slash := strings.LastIndexByte(name, '/')
	if colon := strings.LastIndexByte(name, ':'); colon > slash {
		return name[:colon], name[colon+1:]
	}
	if hasDigest || name == "" {
		return name, ""
	}
	return name, "latest"
}

// PodCgroupUID is the UID the pod's cgroup is named after: the pod's own,
// or a static pod's manifest hash (see mirrorUID).
func PodCgroupUID(pod *corev1.Pod) string {
	if uid := mirrorUID(pod); uid != "" {
		return uid
	}
	return string(pod.UID)
}

// mirrorUID returns the dashed manifest hash of a static pod's mirror pod,
// the form the cgroup package gives for the pod cgroup's name; "" for
// other pods.
func mirrorUID(pod *corev1.Pod) string {
	h := pod.Annotations[mirrorAnnotation]
	if len(h) != 32 {
		return ""
	}
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
