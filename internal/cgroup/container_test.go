package cgroup

import (
	"regexp"
	"strings"
	"testing"
)

// Realistic ids: container ids are 64 lowercase hex digits, pod UIDs are
// random (version 4) UUIDs.
const (
	cid1      = "dd756c380c7ee97b0a315599cb36ddfc92ee4557bb5cf6910ecd2d825ab13c78"
	cid2      = "a9bab8ee394478ffe5e5b39b85035d6d8426e41f5782e18d616faa1aa7e3f404"
	cid3      = "e38f7fd789215c39244851b48dffce02f0de8014e9b6c09a9b13204a754e5e9e"
	uid1      = "7e184f3c-8c7a-4018-9af1-1ab05731d797"
	uid2      = "0255734d-5bac-47b5-a756-3d4596f69275"
	staticUID = "ee28c161e90d4174a450cb03c5b4f279" // kubelet's hash for a static pod
)

// systemdUID is how the systemd driver spells a pod UID in slice names.
func systemdUID(uid string) string { return strings.ReplaceAll(uid, "-", "_") }

type parseCase struct {
	name string
	path string
	want Container
}

func parseCases() []parseCase {
	u1, u2 := systemdUID(uid1), systemdUID(uid2)
	return []parseCase{
		// Host processes.
		{name: "root", path: "/"},
		{name: "empty", path: ""},
		{name: "systemd service", path: "/system.slice/ssh.service"},
		{name: "init scope", path: "/init.scope"},
		{name: "user session", path: "/user.slice/user-1000.slice/session-3.scope"},
		{name: "user app scope", path: "/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-4242.scope"},
		{name: "containerd daemon", path: "/system.slice/containerd.service"},
		{name: "containerd daemon child", path: "/system.slice/containerd.service/k8s.io"},
		{name: "docker daemon", path: "/system.slice/docker.service"},
		{name: "crio daemon", path: "/system.slice/crio.service"},
		{name: "kubepods root cgroupfs", path: "/kubepods"},
		{name: "qos class cgroupfs", path: "/kubepods/besteffort"},
		{name: "qos class systemd", path: "/kubepods.slice/kubepods-burstable.slice"},

		// cgroupfs driver, Kubernetes.
		{
			name: "cgroupfs besteffort",
			path: "/kubepods/besteffort/pod" + uid1 + "/" + cid1,
			want: Container{ID: cid1, PodUID: uid1},
		},
		{
			name: "cgroupfs burstable",
			path: "/kubepods/burstable/pod" + uid2 + "/" + cid2,
			want: Container{ID: cid2, PodUID: uid2},
		},
		{
			name: "cgroupfs guaranteed",
			path: "/kubepods/pod" + uid1 + "/" + cid3,
			want: Container{ID: cid3, PodUID: uid1},
		},
		{
			name: "cgroupfs pod without container",
			path: "/kubepods/besteffort/pod" + uid1,
			want: Container{PodUID: uid1},
		},
		{
			name: "cgroupfs container sub-cgroup",
			path: "/kubepods/burstable/pod" + uid2 + "/" + cid2 + "/init.scope",
			want: Container{ID: cid2, PodUID: uid2},
		},
		{
			name: "cgroupfs container deep sub-cgroup",
			path: "/kubepods/burstable/pod" + uid2 + "/" + cid2 + "/system.slice/dbus.service/worker",
			want: Container{ID: cid2, PodUID: uid2},
		},
		{
			name: "cgroupfs crio",
			path: "/kubepods/burstable/pod" + uid1 + "/crio-" + cid1,
			want: Container{ID: cid1, Runtime: RuntimeCRIO, PodUID: uid1},
		},
		{
			name: "cgroupfs crio conmon",
			path: "/kubepods/burstable/pod" + uid1 + "/crio-conmon-" + cid1,
			want: Container{ID: cid1, Runtime: RuntimeCRIO, PodUID: uid1},
		},
		{
			name: "cgroupfs static pod",
			path: "/kubepods/burstable/pod" + staticUID + "/" + cid1,
			want: Container{ID: cid1, PodUID: "ee28c161-e90d-4174-a450-cb03c5b4f279"},
		},
		{
			name: "cgroupfs custom cgroup root",
			path: "/k8s/kubepods/besteffort/pod" + uid1 + "/" + cid1,
			want: Container{ID: cid1, PodUID: uid1},
		},

		// cgroupfs driver, Docker and Podman.
		{name: "docker cgroupfs", path: "/docker/" + cid1, want: Container{ID: cid1, Runtime: RuntimeDocker}},
		{
			name: "docker cgroupfs sub-cgroup",
			path: "/docker/" + cid1 + "/init.scope",
			want: Container{ID: cid1, Runtime: RuntimeDocker},
		},
		{
			name: "podman cgroupfs",
			path: "/libpod_parent/libpod-" + cid2,
			want: Container{ID: cid2, Runtime: RuntimePodman},
		},
		{
			name: "podman machine scope",
			path: "/machine.slice/libpod-" + cid2 + ".scope",
			want: Container{ID: cid2, Runtime: RuntimePodman},
		},

		// systemd driver, Kubernetes.
		{
			name: "systemd containerd besteffort",
			path: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + u1 + ".slice/cri-containerd-" + cid1 + ".scope",
			want: Container{ID: cid1, Runtime: RuntimeContainerd, PodUID: uid1},
		},
		{
			name: "systemd containerd burstable",
			path: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + u2 + ".slice/cri-containerd-" + cid2 + ".scope",
			want: Container{ID: cid2, Runtime: RuntimeContainerd, PodUID: uid2},
		},
		{
			name: "systemd containerd guaranteed",
			path: "/kubepods.slice/kubepods-pod" + u1 + ".slice/cri-containerd-" + cid3 + ".scope",
			want: Container{ID: cid3, Runtime: RuntimeContainerd, PodUID: uid1},
		},
		{
			name: "systemd pod without container",
			path: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + u1 + ".slice",
			want: Container{PodUID: uid1},
		},
		{
			name: "systemd static pod",
			path: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + staticUID + ".slice/cri-containerd-" + cid1 + ".scope",
			want: Container{ID: cid1, Runtime: RuntimeContainerd, PodUID: "ee28c161-e90d-4174-a450-cb03c5b4f279"},
		},
		{
			name: "systemd crio",
			path: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + u2 + ".slice/crio-" + cid2 + ".scope",
			want: Container{ID: cid2, Runtime: RuntimeCRIO, PodUID: uid2},
		},
		{
			name: "systemd crio conmon",
			path: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + u2 + ".slice/crio-conmon-" + cid2 + ".scope",
			want: Container{ID: cid2, Runtime: RuntimeCRIO, PodUID: uid2},
		},
		{
			name: "systemd dockershim",
			path: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + u1 + ".slice/docker-" + cid1 + ".scope",
			want: Container{ID: cid1, Runtime: RuntimeDocker, PodUID: uid1},
		},
		{
			name: "systemd container sub-cgroup",
			path: "/kubepods.slice/kubepods-pod" + u1 + ".slice/cri-containerd-" + cid3 + ".scope/init.scope",
			want: Container{ID: cid3, Runtime: RuntimeContainerd, PodUID: uid1},
		},

		// systemd driver, Docker and Podman.
		{
			name: "docker systemd",
			path: "/system.slice/docker-" + cid1 + ".scope",
			want: Container{ID: cid1, Runtime: RuntimeDocker},
		},
		{
			name: "docker rootless",
			path: "/user.slice/user-1000.slice/user@1000.service/docker.service/docker-" + cid1 + ".scope",
			want: Container{ID: cid1, Runtime: RuntimeDocker},
		},
		{
			name: "podman rootless",
			path: "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + cid2 + ".scope",
			want: Container{ID: cid2, Runtime: RuntimePodman},
		},
		{
			name: "podman cgroupns container subdir",
			path: "/machine.slice/libpod-" + cid2 + ".scope/container",
			want: Container{ID: cid2, Runtime: RuntimePodman},
		},
		{
			name: "podman rootless container subdir",
			path: "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + cid2 + ".scope/container",
			want: Container{ID: cid2, Runtime: RuntimePodman},
		},
		{
			name: "podman conmon",
			path: "/machine.slice/libpod-conmon-" + cid2 + ".scope",
			want: Container{ID: cid2, Runtime: RuntimePodman},
		},
		{
			name: "podman pod is not a kubernetes pod",
			path: "/machine.slice/machine-libpod_pod_" + cid3 + ".slice/libpod-" + cid2 + ".scope",
			want: Container{ID: cid2, Runtime: RuntimePodman},
		},

		// Nested: Kubernetes in Docker (kind) and friends.
		{
			name: "kind cgroupfs container",
			path: "/docker/" + cid1 + "/kubepods/besteffort/pod" + uid1 + "/" + cid2,
			want: Container{ID: cid2, PodUID: uid1},
		},
		{
			name: "kind cgroupfs pod",
			path: "/docker/" + cid1 + "/kubepods/besteffort/pod" + uid1,
			want: Container{PodUID: uid1},
		},
		{
			name: "kind node processes",
			path: "/docker/" + cid1 + "/system.slice/containerd.service",
			want: Container{ID: cid1, Runtime: RuntimeDocker},
		},
		{
			name: "kind node qos level",
			path: "/docker/" + cid1 + "/kubepods/besteffort",
			want: Container{ID: cid1, Runtime: RuntimeDocker},
		},
		{
			name: "kind systemd",
			path: "/system.slice/docker-" + cid1 + ".scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" + u2 + ".slice/cri-containerd-" + cid3 + ".scope",
			want: Container{ID: cid3, Runtime: RuntimeContainerd, PodUID: uid2},
		},
		{
			name: "docker in a pod container",
			path: "/kubepods/burstable/pod" + uid1 + "/" + cid1 + "/docker/" + cid2,
			want: Container{ID: cid2, Runtime: RuntimeDocker, PodUID: uid1},
		},
		{
			name: "full mount path",
			path: "/sys/fs/cgroup/unified/kubepods/besteffort/pod" + uid1 + "/" + cid1,
			want: Container{ID: cid1, PodUID: uid1},
		},
		{
			name: "repeated slashes",
			path: "//kubepods//besteffort//pod" + uid1 + "//" + cid1 + "/",
			want: Container{ID: cid1, PodUID: uid1},
		},

		// Look-alikes.
		{name: "63 hex digits", path: "/docker/" + cid1[:63]},
		{name: "65 hex digits", path: "/docker/" + cid1 + "0"},
		{name: "uppercase hex", path: "/docker/" + strings.ToUpper(cid1)},
		{name: "non-hex id", path: "/docker/" + cid1[:63] + "g"},
		{name: "scope with 63 hex digits", path: "/system.slice/docker-" + cid1[:63] + ".scope"},
		{name: "docker-compose service", path: "/system.slice/docker-compose.service"},
		{name: "docker prefix service", path: "/system.slice/docker-" + cid1 + ".service"},
		{name: "containerd prefix slice", path: "/system.slice/cri-containerd-" + cid1 + ".slice"},
		{name: "scope with trailing junk", path: "/system.slice/crio-" + cid1 + ".scope.bak"},
		{name: "bare id on the host", path: "/system.slice/" + cid1},
		{name: "bare id under qos class", path: "/kubepods/besteffort/" + cid1},
		{name: "pod with non-uuid", path: "/kubepods/besteffort/podnginx/" + cid1},
		{name: "pod with short uuid", path: "/kubepods/besteffort/pod" + uid1[:35] + "/" + cid1},
		{name: "pod with trailing junk", path: "/kubepods/besteffort/pod" + uid1 + "x/" + cid1},
		{name: "pod with uppercase uuid", path: "/kubepods/besteffort/pod" + strings.ToUpper(uid1) + "/" + cid1},
		{name: "pod with misplaced dashes", path: "/kubepods/besteffort/pod7e184f3c8-c7a-4018-9af1-1ab05731d797/" + cid1},
		{name: "cgroupfs pod with underscores", path: "/kubepods/besteffort/pod" + u1 + "/" + cid1},
		{name: "systemd pod with dashes", path: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uid1 + ".slice"},
		{name: "pod slice with non-uuid", path: "/kubepods.slice/kubepods-podcast.slice"},
		{
			name: "63 hex digits under a pod",
			path: "/kubepods/besteffort/pod" + uid1 + "/" + cid1[:63],
			want: Container{PodUID: uid1},
		},
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range parseCases() {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParsePath(tc.path); got != tc.want {
				t.Errorf("ParsePath(%q) = %+v, want %+v", tc.path, got, tc.want)
			}
		})
	}
}

// The fuzz invariants are checked with regular expressions rather than the
// package's own helpers, so a bug in those cannot hide itself.
var (
	hexIDPattern  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	podUIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

func isKnownRuntime(r string) bool {
	switch r {
	case "", RuntimeContainerd, RuntimeCRIO, RuntimeDocker, RuntimePodman:
		return true
	}
	return false
}

func FuzzParsePath(f *testing.F) {
	for _, tc := range parseCases() {
		f.Add(tc.path)
	}
	f.Fuzz(func(t *testing.T, path string) {
		c := ParsePath(path)
		if c.ID != "" && !hexIDPattern.MatchString(c.ID) {
			t.Errorf("ParsePath(%q).ID = %q, not 64 lowercase hex digits", path, c.ID)
		}
		if !isKnownRuntime(c.Runtime) {
			t.Errorf("ParsePath(%q).Runtime = %q, not a known runtime", path, c.Runtime)
		}
		if c.Runtime != "" && c.ID == "" {
			t.Errorf("ParsePath(%q) = %+v: runtime without container id", path, c)
		}
		if c.PodUID != "" && !podUIDPattern.MatchString(c.PodUID) {
			t.Errorf("ParsePath(%q).PodUID = %q, not a canonical UUID", path, c.PodUID)
		}
		if c.ID != "" && !strings.Contains(path, c.ID) {
			t.Errorf("ParsePath(%q).ID = %q does not occur in the path", path, c.ID)
		}
	})
}

func BenchmarkParsePath(b *testing.B) {
	path := "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + systemdUID(uid1) + ".slice/cri-containerd-" + cid1 + ".scope"
	b.ReportAllocs()
	for b.Loop() {
		ParsePath(path)
	}
}
