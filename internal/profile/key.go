package profile

import (
	"strings"

	"github.com/capprof/capprof/internal/check"
)

// Key says which workload a profile is about. Exactly one of these shapes is
// set, in this order of preference:
//
//   - Kubernetes: Namespace, WorkloadKind, Workload and Container (Container
//     may be "" when the container name is unknown). Replicas on different
//     nodes share it, so they merge into one profile.
//   - Command: the command of `capprof run` (WithCommand).
//   - Image: "name:tag" of a container outside Kubernetes.
//   - ContainerID: a container whose image is unknown.
//   - Host and Command: a host process, by its executable path (Command is
//     "" when the executable is unknown; Host is UnknownHost when the host
//     name is).
type Key struct {
	Namespace    string `json:"namespace,omitempty"`
	WorkloadKind string `json:"workload_kind,omitempty"`
	Workload     string `json:"workload,omitempty"`
	Container    string `json:"container,omitempty"`
	Image        string `json:"image,omitempty"`
	ContainerID  string `json:"container_id,omitempty"`
	Command      string `json:"command,omitempty"`
	Host         string `json:"host,omitempty"`
}

// Kinds of keys, as Key.Kind returns them.
const (
	KeyKubernetes = "kubernetes"
	KeyImage      = "image"
	KeyContainer  = "container"
	KeyCommand    = "command"
	KeyHost       = "host"
)

// Workload kinds, as Kubernetes spells them.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
	KindDaemonSet   = "DaemonSet"
	KindCronJob     = "CronJob"
	KindJob         = "Job"
	KindReplicaSet  = "ReplicaSet"
	KindPod         = "Pod"
)

// ownerAttrs lists the owning-workload attributes in order of preference:
// the k8s_attributes processor derives the Deployment from the ReplicaSet
// and the CronJob from the Job, so the outermost owner is preferred.
var ownerAttrs = [...]struct{ attr, kind string }{
	{AttrDeploymentName, KindDeployment},
	{AttrStatefulSet, KindStatefulSet},
	{AttrDaemonSetName, KindDaemonSet},
	{AttrCronJobName, KindCronJob},
	{AttrJobName, KindJob},
	{AttrReplicaSetName, KindReplicaSet},
	{AttrPodName, KindPod},
}

// Kind returns which shape the key has (KeyKubernetes, ...); "" for the
// zero Key.
func (k Key) Kind() string {
	switch {
	case k.Workload != "":
		return KeyKubernetes
	case k.Host != "":
		return KeyHost
	case k.Command != "":
		return KeyCommand
	case k.Image != "":
		return KeyImage
	case k.ContainerID != "":
		return KeyContainer
	}
	return ""
}

// UnknownHost stands for the host name in the key of a host process when no
// observation named the host, so that a host key always has a Host and never
// reads as the key of `capprof run`.
const UnknownHost = "unknown-host"

// String is a one-line name for people and for sorting:
// "k8s shop/Deployment/web/nginx", "image nginx:1.27", "container <id>",
// "command ping -c1 example.org", "host node-1 /usr/sbin/chronyd".
func (k Key) String() string {
	switch k.Kind() {
	case KeyKubernetes:
		s := "k8s " + k.Namespace + "/" + k.WorkloadKind + "/" + k.Workload
		if k.Container != "" {
			s += "/" + k.Container
		}
		return s
	case KeyCommand:
		return "command " + k.Command
	case KeyImage:
		return "image " + k.Image
	case KeyContainer:
		return "container " + k.ContainerID
	case KeyHost:
		exe := k.Command
		if exe == "" {
			exe = "(unknown executable)"
		}
		return "host " + k.Host + " " + exe
	}
	return "(empty key)"
}

// keyOf derives the key of an observation; command is WithCommand's value.
func keyOf(o *Observation, command string) Key {
	if command != "" {
		return Key{Command: command}
	}
	if k, ok := kubernetesKey(o); ok {
		return k
	}
	if img := imageOf(o); img != "" {
		return Key{Image: img}
	}
	if id := containerIDOf(o); id != "" {
		return Key{ContainerID: id}
	}
	host := hostOf(o)
	if host == "" {
		host = UnknownHost
	}
	return Key{Host: host, Command: o.Check.Process.ExecutablePath}
}

// kubernetesKey returns the workload key when the namespace and an owning
// workload (or at least the pod name) are known.
func kubernetesKey(o *Observation) (Key, bool) {
	ns := o.Resource[AttrNamespace]
	if ns == "" {
		return Key{}, false
	}
	for _, oa := range ownerAttrs {
		if name := o.Resource[oa.attr]; name != "" {
			return Key{Namespace: ns, WorkloadKind: oa.kind, Workload: name, Container: o.Resource[AttrContainerName]}, true
		}
	}
	return Key{}, false
}

// imageOf returns "name:tag", or the name alone when the tag is unknown, or
// "" when the image is unknown. A name that already carries a tag or a
// digest is kept as it is.
func imageOf(o *Observation) string {
	name := o.Resource[AttrImageName]
	if name == "" {
		return ""
	}
	tag := o.Resource[AttrImageTag]
	if tag == "" || strings.Contains(name, "@") || strings.Contains(name[strings.LastIndexByte(name, '/')+1:], ":") {
		return name
	}
	return name + ":" + tag
}

// containerIDOf returns the container id from the resource or the check.
func containerIDOf(o *Observation) string {
	if id := o.Resource[check.AttrContainerID]; id != "" {
		return id
	}
	return o.Check.Container.ID
}

// hostOf returns the host name from the resource or the check.
func hostOf(o *Observation) string {
	if h := o.Resource[check.AttrHostName]; h != "" {
		return h
	}
	return o.Check.HostName
}

// KeyAttribute is one resource attribute that identifies a key.
type KeyAttribute struct{ Name, Value string }

// Attributes returns the resource attributes that identify the key, the
// inverse of how observations are keyed, for the connector's profile
// records: the namespace, owning workload and container of a Kubernetes
// key; the image name and tag; the container id; the host name and
// executable path of a host key (process.command_line for a command).
// Empty fields are left out.
func (k Key) Attributes() []KeyAttribute {
	var out []KeyAttribute
	put := func(name, value string) {
		if value != "" {
			out = append(out, KeyAttribute{name, value})
		}
	}
	switch k.Kind() {
	case KeyKubernetes:
		put(AttrNamespace, k.Namespace)
		for _, oa := range ownerAttrs {
			if oa.kind == k.WorkloadKind {
				put(oa.attr, k.Workload)
				break
			}
		}
		put(AttrContainerName, k.Container)
	case KeyImage:
		name, tag := splitImage(k.Image)
		put(AttrImageName, name)
		put(AttrImageTag, tag)
	case KeyContainer:
		put(check.AttrContainerID, k.ContainerID)
	case KeyHost:
		put(check.AttrHostName, k.Host)
		put(check.AttrExePath, k.Command)
	case KeyCommand:
		put(attrCommandLine, k.Command)
	}
	return out
}

// attrCommandLine is the OpenTelemetry attribute of a full command line.
const attrCommandLine = "process.command_line"

// splitImage splits "name:tag" as imageOf joined it; a name with a digest,
// or without a tag, comes back whole with an empty tag.
func splitImage(image string) (name, tag string) {
	if strings.Contains(image, "@") {
		return image, ""
	}
	slash := strings.LastIndexByte(image, '/')
	if colon := strings.LastIndexByte(image, ':'); colon > slash {
		return image[:colon], image[colon+1:]
	}
	return image, ""
}

// KubernetesKeyOf is the key the profile of a Kubernetes container's checks
// gets, from its metadata: the key of its records, through the one mapping
// of metadata to resource attributes. false when the metadata names no
// namespace.
func KubernetesKeyOf(m *check.Kubernetes) (Key, bool) {
	c := check.Check{Kubernetes: m}
	return kubernetesKey(&Observation{Resource: resourceOf(c.Resource())})
}

// resourceOf is the string resource attributes, all that a key is made
// of, as an Observation holds them. AppendKey runs on the record path, once
// per resource: no boxing of the other attributes.
func resourceOf(attrs []check.Attr) map[string]string {
	res := make(map[string]string, len(attrs))
	for i := range attrs {
		if attrs[i].Kind == check.KindString {
			res[attrs[i].Key] = attrs[i].Str
		}
	}
	return res
}

// AttrKey is the resource attribute of check records that names the
// profile their checks go into (Key.String()). Agents set it so that the
// loadbalancing exporter can route every check of a workload to the same
// gateway with `routing_key: attributes` on this one attribute: a list of
// the key's own attributes cannot say it, because a Deployment's pods also
// carry their ReplicaSet, pod and host names, which differ between replicas,
// and a host process is keyed by its host while a container is not.
const AttrKey = "linux.capability.profile.key"

// AppendKey appends AttrKey, the key of c's profile, to attrs, which holds
// c's resource attributes (check.AppendResource): the same key the
// connector derives from the record on the gateway.
func AppendKey(attrs []check.Attr, c *check.Check) []check.Attr {
	k := keyOf(&Observation{Resource: resourceOf(attrs), Check: *c}, "")
	return append(attrs, check.Attr{Key: AttrKey, Kind: check.KindString, Str: k.String()})
}
