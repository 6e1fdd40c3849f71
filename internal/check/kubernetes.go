package check

import (
	"slices"
	"strconv"
	"strings"
)

// Kubernetes resource attributes. The names are the ones the Collector's
// k8s_attributes processor sets, so that profiles and dashboards work with
// either source.
const (
	AttrNamespace       = "k8s.namespace.name"
	AttrPodName         = "k8s.pod.name"
	AttrNodeName        = "k8s.node.name"
	AttrContainerName   = "k8s.container.name"
	AttrImageName       = "container.image.name"
	AttrImageTag        = "container.image.tag"
	AttrImageID         = "container.image.id"
	AttrDeploymentName  = "k8s.deployment.name"
	AttrReplicaSetName  = "k8s.replicaset.name"
	AttrDaemonSetName   = "k8s.daemonset.name"
	AttrStatefulSetName = "k8s.statefulset.name"
	AttrJobName         = "k8s.job.name"
	AttrCronJobName     = "k8s.cronjob.name"
	// AttrPodLabelPrefix prefixes each selected pod label's key.
	AttrPodLabelPrefix = "k8s.pod.label."
)

// The container's declared securityContext, as resource attributes with
// string values, so that profiles can compare what a container declared
// with what it used.
const (
	// AttrDeclaredAdd is securityContext.capabilities.add, comma-separated
	// as declared ("NET_BIND_SERVICE,NET_ADMIN"); "" means an empty list.
	AttrDeclaredAdd = "k8s.container.security_context.capabilities.add"
	// AttrDeclaredDrop is securityContext.capabilities.drop, likewise ("ALL").
	AttrDeclaredDrop = "k8s.container.security_context.capabilities.drop"
	// AttrDeclaredPrivileged is securityContext.privileged, "true" or "false".
	AttrDeclaredPrivileged = "k8s.container.security_context.privileged"
)

// AttrRuntimeSetup is the boolean record attribute that marks a check made
// by the container runtime while setting the container up (runc init,
// before the container's first exec of its entrypoint). It is only present
// when true.
const AttrRuntimeSetup = "linux.capability.runtime_setup"

// Kubernetes is what the API server says about the pod, and the container
// in it, that a check came from. One value is shared by every check of a
// container and never changed: a pod update makes a new one.
type Kubernetes struct {
	Namespace string
	PodName   string
	PodUID    string
	NodeName  string
	// ContainerName, ImageName, ImageTag, ImageID and Declared are unset
	// when only the pod is known (a sandbox, or a container the pod's
	// status does not list yet).
	ContainerName string
	ImageName     string
	ImageTag      string
	// ImageID is the image the container runs, as the runtime resolved it
	// (the status's imageID: "docker.io/library/nginx@sha256:...").
	ImageID  string
	Declared *SecurityContext
	// The pod's owners: each is "" when the pod has no such owner.
	Deployment  string
	ReplicaSet  string
	DaemonSet   string
	StatefulSet string
	Job         string
	CronJob     string
	// Labels are the pod labels selected for export, sorted by key.
	Labels []Label
}

// Label is one pod label.
type Label struct{ Key, Value string }

// SecurityContext is the capability part of a container's declared
// securityContext: capability names as written in the pod spec.
type SecurityContext struct {
	Add, Drop  []string
	Privileged bool
}

// appendTo appends k's resource attributes (the pod UID is the
// caller's: it may come from the cgroup alone).
func (k *Kubernetes) appendTo(attrs []Attr) []Attr {
	for _, a := range [...]struct{ key, value string }{
		{AttrNamespace, k.Namespace},
		{AttrPodName, k.PodName},
		{AttrNodeName, k.NodeName},
		{AttrContainerName, k.ContainerName},
		{AttrImageName, k.ImageName},
		{AttrImageTag, k.ImageTag},
		{AttrImageID, k.ImageID},
		{AttrDeploymentName, k.Deployment},
		{AttrReplicaSetName, k.ReplicaSet},
		{AttrDaemonSetName, k.DaemonSet},
		{AttrStatefulSetName, k.StatefulSet},
		{AttrJobName, k.Job},
		{AttrCronJobName, k.CronJob},
	} {
		if a.value != "" {
			attrs = append(attrs, str(a.key, a.value))
		}
	}
	if d := k.Declared; d != nil {
		attrs = append(attrs,
			str(AttrDeclaredAdd, strings.Join(d.Add, ",")),
			str(AttrDeclaredDrop, strings.Join(d.Drop, ",")),
			str(AttrDeclaredPrivileged, strconv.FormatBool(d.Privileged)),
		)
	}
	for _, l := range k.Labels {
		attrs = append(attrs, str(AttrPodLabelPrefix+l.Key, l.Value))
	}
	return attrs
}

// kubernetesFrom rebuilds the Kubernetes metadata from resource attributes;
// nil when they carry no pod name (the cgroup's pod UID alone is not
// Kubernetes metadata).
func kubernetesFrom(resource map[string]any) *Kubernetes {
	get := func(k string) string { s, _ := resource[k].(string); return s }
	if get(AttrPodName) == "" {
		return nil
	}
	k := &Kubernetes{
		Namespace: get(AttrNamespace), PodName: get(AttrPodName), PodUID: get(AttrPodUID),
		NodeName: get(AttrNodeName), ContainerName: get(AttrContainerName),
		ImageName: get(AttrImageName), ImageTag: get(AttrImageTag), ImageID: get(AttrImageID),
		Deployment: get(AttrDeploymentName), ReplicaSet: get(AttrReplicaSetName),
		DaemonSet: get(AttrDaemonSetName), StatefulSet: get(AttrStatefulSetName),
		Job: get(AttrJobName), CronJob: get(AttrCronJobName),
	}
	if _, ok := resource[AttrDeclaredPrivileged]; ok {
		k.Declared = &SecurityContext{
			Add:        splitList(get(AttrDeclaredAdd)),
			Drop:       splitList(get(AttrDeclaredDrop)),
			Privileged: get(AttrDeclaredPrivileged) == "true",
		}
	}
	for key, v := range resource {
		if name, ok := strings.CutPrefix(key, AttrPodLabelPrefix); ok {
			s, _ := v.(string)
			k.Labels = append(k.Labels, Label{Key: name, Value: s})
		}
	}
	slices.SortFunc(k.Labels, func(a, b Label) int { return strings.Compare(a.Key, b.Key) })
	return k
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
