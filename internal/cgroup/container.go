package cgroup

import "strings"

// Container is what a cgroup path says about the container that owns it.
type Container struct {
	ID      string // 64-hex (or runtime-specific) container id, "" for host processes
	Runtime string // "containerd", "cri-o", "docker", "podman" ("" when unknown)
	PodUID  string // Kubernetes pod UID with dashes (8-4-4-4-12), "" when not a pod
}

// Runtime names reported in Container.Runtime.
const (
	RuntimeContainerd = "containerd"
	RuntimeCRIO       = "cri-o"
	RuntimeDocker     = "docker"
	RuntimePodman     = "podman"
)

// ParsePath parses a cgroup path (as in /proc/PID/cgroup, relative to the
// cgroup root, e.g. "/kubepods/besteffort/pod<uid>/<cid>") into a Container.
// Host paths ("/", "/system.slice/ssh.service", "/user.slice/...") give the
// zero Container.
//
// The path is read from the root down and the innermost match wins, so a
// Kubernetes container inside a kind node container reports the inner
// container, while sub-cgroups that a container creates below its own cgroup
// (init.scope, podman's "container", ...) still report that container.
//
// A container id found as a bare directory name carries no runtime, except
// under Docker's cgroupfs parent "/docker"; callers that know the node's
// runtime may fill Runtime in.
//
// Static pods are the one exception to dashed UIDs in cgroup names: kubelet
// names their cgroup after a 32-hex-digit hash of the manifest. That hash is
// returned in dashed form too, so PodUID always has one shape; removing the
// dashes gives back the value of the mirror pod's kubernetes.io/config.mirror
// annotation.
func ParsePath(path string) Container {
	var (
		c           Container
		underPod    bool // the previous segment was a pod cgroup
		underDocker bool // the previous segment was Docker's cgroupfs parent
	)
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "" {
			continue
		}
		parentPod, parentDocker := underPod, underDocker
		underPod, underDocker = false, seg == "docker"

		if uid, ok := podUIDOf(seg); ok {
			// A pod inside a container (kind, nested runtimes) starts a new,
			// innermost scope; the outer container no longer describes it.
			c = Container{PodUID: uid}
			underPod = true
			continue
		}
		if id, runtime, ok := prefixedContainer(seg); ok {
			c.ID, c.Runtime = id, runtime
			continue
		}
		// Bare ids are only trusted where a runtime is known to put them, so
		// that an unrelated 64-hex directory name isn't taken for a container.
		if isContainerID(seg) {
			switch {
			case parentPod:
				c.ID, c.Runtime = seg, ""
			case parentDocker:
				c.ID, c.Runtime = seg, RuntimeDocker
			}
		}
	}
	return c
}

// prefixedContainer recognises the "<prefix><id>" cgroup names runtimes
// create: with the ".scope" suffix under the systemd driver, without it under
// cgroupfs. conmon monitors get a cgroup of their own, named after the
// container they watch.
func prefixedContainer(seg string) (id, runtime string, ok bool) {
	name := strings.TrimSuffix(seg, ".scope")
	for _, p := range [...]struct{ prefix, runtime string }{
		{"cri-containerd-", RuntimeContainerd},
		{"crio-conmon-", RuntimeCRIO},
		{"crio-", RuntimeCRIO},
		{"docker-", RuntimeDocker},
		{"libpod-conmon-", RuntimePodman},
		{"libpod-", RuntimePodman},
	} {
		if rest, found := strings.CutPrefix(name, p.prefix); found && isContainerID(rest) {
			return rest, p.runtime, true
		}
	}
	return "", "", false
}

// podUIDOf recognises a pod-level cgroup and returns the pod UID in
// canonical form.
func podUIDOf(seg string) (string, bool) {
	if name, ok := strings.CutSuffix(seg, ".slice"); ok {
		// The systemd driver encodes the ancestry in the slice name with '-'
		// ("kubepods-besteffort-pod<uid>.slice"), which is why kubelet writes
		// the UID's own dashes as '_'.
		name = name[strings.LastIndexByte(name, '-')+1:]
		rest, ok := strings.CutPrefix(name, "pod")
		if !ok {
			return "", false
		}
		return canonicalUID(rest, '_')
	}
	rest, ok := strings.CutPrefix(seg, "pod")
	if !ok {
		return "", false
	}
	return canonicalUID(rest, '-')
}
