package profile

import (
	"reflect"
	"testing"

	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
)

func TestKeyOf(t *testing.T) {
	nginx := check.Check{HostName: "node-1", Process: proc.Info{ExecutablePath: "/usr/sbin/nginx"}}
	inContainer := nginx
	inContainer.Container = cgroup.Container{ID: "c0ffee"}
	tests := []struct {
		name    string
		res     map[string]string
		chk     check.Check
		command string
		want    Key
		str     string
	}{
		{
			name: "deployment wins over its replicaset and the pod",
			res: map[string]string{AttrNamespace: "shop", AttrDeploymentName: "web", AttrReplicaSetName: "web-7d9f8c6b5",
				AttrPodName: "web-7d9f8c6b5-abc12", AttrContainerName: "nginx", AttrImageName: "nginx", check.AttrContainerID: "c1"},
			chk:  nginx,
			want: Key{Namespace: "shop", WorkloadKind: KindDeployment, Workload: "web", Container: "nginx"},
			str:  "k8s shop/Deployment/web/nginx",
		},
		{
			name: "statefulset",
			res:  map[string]string{AttrNamespace: "db", AttrStatefulSet: "pg", AttrPodName: "pg-0", AttrContainerName: "postgres"},
			want: Key{Namespace: "db", WorkloadKind: KindStatefulSet, Workload: "pg", Container: "postgres"},
			str:  "k8s db/StatefulSet/pg/postgres",
		},
		{
			name: "daemonset",
			res:  map[string]string{AttrNamespace: "kube-system", AttrDaemonSetName: "agent", AttrContainerName: "a"},
			want: Key{Namespace: "kube-system", WorkloadKind: KindDaemonSet, Workload: "agent", Container: "a"},
			str:  "k8s kube-system/DaemonSet/agent/a",
		},
		{
			name: "cronjob wins over its job",
			res:  map[string]string{AttrNamespace: "batch", AttrCronJobName: "backup", AttrJobName: "backup-29012345", AttrContainerName: "b"},
			want: Key{Namespace: "batch", WorkloadKind: KindCronJob, Workload: "backup", Container: "b"},
			str:  "k8s batch/CronJob/backup/b",
		},
		{
			name: "job",
			res:  map[string]string{AttrNamespace: "batch", AttrJobName: "migrate", AttrContainerName: "m"},
			want: Key{Namespace: "batch", WorkloadKind: KindJob, Workload: "migrate", Container: "m"},
			str:  "k8s batch/Job/migrate/m",
		},
		{
			name: "replicaset without a deployment",
			res:  map[string]string{AttrNamespace: "shop", AttrReplicaSetName: "legacy", AttrContainerName: "c"},
			want: Key{Namespace: "shop", WorkloadKind: KindReplicaSet, Workload: "legacy", Container: "c"},
			str:  "k8s shop/ReplicaSet/legacy/c",
		},
		{
			name: "bare pod",
			res:  map[string]string{AttrNamespace: "default", AttrPodName: "debug", AttrContainerName: "shell"},
			want: Key{Namespace: "default", WorkloadKind: KindPod, Workload: "debug", Container: "shell"},
			str:  "k8s default/Pod/debug/shell",
		},
		{
			name: "container name unknown",
			res:  map[string]string{AttrNamespace: "shop", AttrDeploymentName: "web"},
			want: Key{Namespace: "shop", WorkloadKind: KindDeployment, Workload: "web"},
			str:  "k8s shop/Deployment/web",
		},
		{
			name: "namespace without a workload falls back to the image",
			res:  map[string]string{AttrNamespace: "shop", AttrImageName: "nginx", AttrImageTag: "1.27"},
			want: Key{Image: "nginx:1.27"},
			str:  "image nginx:1.27",
		},
		{
			name: "workload without a namespace falls back to the image",
			res:  map[string]string{AttrDeploymentName: "web", AttrImageName: "nginx"},
			want: Key{Image: "nginx"},
			str:  "image nginx",
		},
		{
			name: "image without kubernetes",
			res:  map[string]string{AttrImageName: "registry.example:5000/tools", AttrImageTag: "2.1", check.AttrContainerID: "c1"},
			want: Key{Image: "registry.example:5000/tools:2.1"},
			str:  "image registry.example:5000/tools:2.1",
		},
		{
			name: "container id from the resource",
			res:  map[string]string{check.AttrContainerID: "c1", check.AttrHostName: "node-1"},
			chk:  inContainer,
			want: Key{ContainerID: "c1"},
			str:  "container c1",
		},
		{
			name: "container id from the check",
			chk:  inContainer,
			want: Key{ContainerID: "c0ffee"},
			str:  "container c0ffee",
		},
		{
			name: "host process",
			res:  map[string]string{check.AttrHostName: "node-2"},
			chk:  nginx,
			want: Key{Host: "node-2", Command: "/usr/sbin/nginx"},
			str:  "host node-2 /usr/sbin/nginx",
		},
		{
			name: "host process, host name from the check",
			chk:  nginx,
			want: Key{Host: "node-1", Command: "/usr/sbin/nginx"},
			str:  "host node-1 /usr/sbin/nginx",
		},
		{
			name: "host process with nothing known",
			want: Key{Host: UnknownHost},
			str:  "host unknown-host (unknown executable)",
		},
		{
			name:    "command wins over everything",
			res:     map[string]string{AttrNamespace: "shop", AttrDeploymentName: "web", AttrImageName: "nginx"},
			chk:     inContainer,
			command: "ping -c1 example.org",
			want:    Key{Command: "ping -c1 example.org"},
			str:     "command ping -c1 example.org",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Observation{Resource: tt.res, Check: tt.chk}
			got := keyOf(&o, tt.command)
			if got != tt.want {
				t.Errorf("keyOf = %+v, want %+v", got, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
		})
	}
}

func TestKeyKind(t *testing.T) {
	tests := []struct {
		name string
		key  Key
		want string
	}{
		{name: "kubernetes", key: Key{Namespace: "n", WorkloadKind: KindPod, Workload: "p"}, want: KeyKubernetes},
		{name: "host", key: Key{Host: "h", Command: "/bin/x"}, want: KeyHost},
		{name: "command", key: Key{Command: "x"}, want: KeyCommand},
		{name: "image", key: Key{Image: "i"}, want: KeyImage},
		{name: "container", key: Key{ContainerID: "c"}, want: KeyContainer},
		{name: "zero", key: Key{}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.key.Kind(); got != tt.want {
				t.Errorf("Kind() = %q, want %q", got, tt.want)
			}
		})
	}
	if s := (Key{}).String(); s != "(empty key)" {
		t.Errorf("zero Key String() = %q", s)
	}
}

func TestImageOf(t *testing.T) {
	tests := []struct {
		name, image, tag, want string
	}{
		{name: "name and tag", image: "nginx", tag: "1.27", want: "nginx:1.27"},
		{name: "no tag", image: "nginx", want: "nginx"},
		{name: "no image", tag: "1.27", want: ""},
		{name: "registry with a port", image: "reg:5000/a/b", tag: "v1", want: "reg:5000/a/b:v1"},
		{name: "name already tagged", image: "nginx:1.27", tag: "1.27", want: "nginx:1.27"},
		{name: "digest", image: "nginx@sha256:abcd", tag: "1.27", want: "nginx@sha256:abcd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Observation{Resource: map[string]string{AttrImageName: tt.image, AttrImageTag: tt.tag}}
			if got := imageOf(&o); got != tt.want {
				t.Errorf("imageOf = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestReplicasMerge: two replicas of a Deployment on different nodes, with
// different pods and container ids, make one profile that names both hosts.
func TestReplicasMerge(t *testing.T) {
	a := chk(at(0), capNetBindService, "/usr/sbin/nginx", "bind", 1, 0)
	b := chk(at(9), capNetBindService, "/usr/sbin/nginx", "bind", 2, 0)
	ps := build([]Observation{{Resource: webNode1, Check: a}, {Resource: webNode2, Check: b}})
	if len(ps) != 1 {
		t.Fatalf("got %d profiles, want 1: %+v", len(ps), ps)
	}
	p := ps[0]
	if p.ID != "k8s shop/Deployment/web/nginx" || p.Checks != 3 || p.Observations != 2 {
		t.Errorf("profile %q checks %d observations %d", p.ID, p.Checks, p.Observations)
	}
	if got := p.Hosts; len(got) != 2 || got[0] != "node-1" || got[1] != "node-2" {
		t.Errorf("hosts = %v", got)
	}
	if !p.FirstSeen.Equal(at(0)) || !p.LastSeen.Equal(at(9)) {
		t.Errorf("window = %v .. %v", p.FirstSeen, p.LastSeen)
	}
}

func TestKeyAttributes(t *testing.T) {
	tests := []struct {
		name string
		key  Key
		want []KeyAttribute
	}{
		{
			name: "deployment",
			key:  Key{Namespace: "shop", WorkloadKind: KindDeployment, Workload: "web", Container: "nginx"},
			want: []KeyAttribute{{AttrNamespace, "shop"}, {AttrDeploymentName, "web"}, {AttrContainerName, "nginx"}},
		},
		{
			name: "bare pod without a container name",
			key:  Key{Namespace: "shop", WorkloadKind: KindPod, Workload: "debug"},
			want: []KeyAttribute{{AttrNamespace, "shop"}, {AttrPodName, "debug"}},
		},
		{
			name: "cronjob",
			key:  Key{Namespace: "ops", WorkloadKind: KindCronJob, Workload: "backup", Container: "db"},
			want: []KeyAttribute{{AttrNamespace, "ops"}, {AttrCronJobName, "backup"}, {AttrContainerName, "db"}},
		},
		{name: "image with a tag", key: Key{Image: "registry:5000/tools:2.1"}, want: []KeyAttribute{{AttrImageName, "registry:5000/tools"}, {AttrImageTag, "2.1"}}},
		{name: "image without a tag", key: Key{Image: "registry:5000/tools"}, want: []KeyAttribute{{AttrImageName, "registry:5000/tools"}}},
		{name: "image with a digest", key: Key{Image: "tools@sha256:ab"}, want: []KeyAttribute{{AttrImageName, "tools@sha256:ab"}}},
		{name: "container", key: Key{ContainerID: "3f1c"}, want: []KeyAttribute{{check.AttrContainerID, "3f1c"}}},
		{name: "host", key: Key{Host: "node-1", Command: "/usr/sbin/chronyd"}, want: []KeyAttribute{{check.AttrHostName, "node-1"}, {check.AttrExePath, "/usr/sbin/chronyd"}}},
		{name: "host, executable unknown", key: Key{Host: "node-1"}, want: []KeyAttribute{{check.AttrHostName, "node-1"}}},
		{name: "command", key: Key{Command: "ping -c1 x"}, want: []KeyAttribute{{"process.command_line", "ping -c1 x"}}},
		{name: "zero", key: Key{}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.key.Attributes(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Attributes() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestKeyAttributesRoundTrip keys an observation whose resource is a key's
// attributes: the same key comes back.
func TestKeyAttributesRoundTrip(t *testing.T) {
	for _, k := range []Key{
		{Namespace: "shop", WorkloadKind: KindStatefulSet, Workload: "db", Container: "pg"},
		{Image: "nginx:1.27"},
		{ContainerID: "3f1c"},
		{Host: "node-1", Command: "/bin/x"},
	} {
		res := map[string]string{}
		for _, a := range k.Attributes() {
			res[a.Name] = a.Value
		}
		o := Observation{Resource: res}
		o.Check.Process.ExecutablePath = res[check.AttrExePath]
		if got := keyOf(&o, ""); got != k {
			t.Errorf("key %v: round trip gave %v", k, got)
		}
	}
}

func TestKubernetesKeyOf(t *testing.T) {
	tests := []struct {
		name string
		meta check.Kubernetes
		want Key
		ok   bool
	}{
		{name: "deployment over its replicaset", meta: check.Kubernetes{Namespace: "default", PodName: "deathstar-6c94dcc57b-x2k9z",
			ReplicaSet: "deathstar-6c94dcc57b", Deployment: "deathstar", ContainerName: "deathstar"},
			want: Key{Namespace: "default", WorkloadKind: KindDeployment, Workload: "deathstar", Container: "deathstar"}, ok: true},
		{name: "a bare pod", meta: check.Kubernetes{Namespace: "default", PodName: "xwing", ContainerName: "spaceship"},
			want: Key{Namespace: "default", WorkloadKind: KindPod, Workload: "xwing", Container: "spaceship"}, ok: true},
		{name: "no namespace", meta: check.Kubernetes{PodName: "xwing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := KubernetesKeyOf(&tt.meta)
			if got != tt.want || ok != tt.ok {
				t.Errorf("KubernetesKeyOf = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
