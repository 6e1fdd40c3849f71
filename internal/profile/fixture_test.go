package profile

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Capability numbers the tests use.
const (
	capChown          = 0
	capDacOverride    = 1
	capFowner         = 3
	capKill           = 5
	capSetgid         = 6
	capSetuid         = 7
	capNetBindService = 10
	capNetAdmin       = 12
	capNetRaw         = 13
	capSysChroot      = 18
	capSysPtrace      = 19
	capSysAdmin       = 21
	capSysTime        = 25
	capBPF            = 39
)

// base is the time of the first fixture check. UTC keeps the table golden
// file independent of the machine's time zone.
var base = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func at(seconds int) time.Time { return base.Add(time.Duration(seconds) * time.Second) }

// setOf builds a capability set.
func setOf(ids ...int) caps.Set {
	var s caps.Set
	for _, id := range ids {
		s = s.With(id)
	}
	return s
}

// fullSet is every known capability: root on the host, a privileged
// container, or anyone in a user namespace they made.
var fullSet, _ = caps.ParseSet("all")

// containerdDefault is the runtime's default set plus NET_ADMIN, as the web
// fixture declares it.
var containerdDefault, _ = caps.ParseSet("CHOWN,DAC_OVERRIDE,FSETID,FOWNER,MKNOD,NET_RAW,SETGID,SETUID,SETFCAP,SETPCAP,NET_BIND_SERVICE,SYS_CHROOT,KILL,AUDIT_WRITE")

var hostNS = check.UserNamespace{Level: 0, Inode: 4026531837, IsHost: true}

// chk is a granted, audited check by root in the initial user namespace.
func chk(t time.Time, capID int, exe, syscall string, count uint64, eff caps.Set) check.Check {
	return check.Check{
		Time:        t,
		Cap:         capID,
		Audit:       check.Audited,
		Effective:   eff,
		Count:       count,
		UserNS:      hostNS,
		Syscall:     0, // the numbers do not matter here; the names do
		SyscallName: syscall,
		PID:         4242,
		TID:         4242,
		Process:     proc.Info{PID: 4242, ExecutablePath: exe},
	}
}

// Resource attributes of the fixture's workloads.
func webResource(node, pod, containerID string) map[string]string {
	return map[string]string{
		AttrNamespace:          "shop",
		AttrPodName:            pod,
		AttrContainerName:      "nginx",
		AttrImageName:          "docker.io/library/nginx",
		AttrImageTag:           "1.27",
		AttrDeploymentName:     "web",
		AttrReplicaSetName:     "web-7d9f8c6b5",
		check.AttrContainerID:  containerID,
		check.AttrHostName:     node,
		AttrDeclaredAdd:        "NET_BIND_SERVICE,NET_ADMIN",
		AttrDeclaredPrivileged: "false",
	}
}

var (
	webNode1 = webResource("node-1", "web-7d9f8c6b5-abc12", "aaaa000000000000000000000000000000000000000000000000000000000001")
	webNode2 = webResource("node-2", "web-7d9f8c6b5-def34", "bbbb000000000000000000000000000000000000000000000000000000000002")
	agent    = map[string]string{
		AttrNamespace:          "kube-system",
		AttrPodName:            "node-agent-x7k2p",
		AttrContainerName:      "agent",
		AttrImageName:          "ghcr.io/example/agent",
		AttrImageTag:           "v2",
		AttrDaemonSetName:      "node-agent",
		check.AttrHostName:     "node-1",
		AttrDeclaredAdd:        "",
		AttrDeclaredPrivileged: "true",
	}
	backup = map[string]string{
		AttrNamespace:         "batch",
		AttrPodName:           "backup-29012345-q8w7e",
		AttrContainerName:     "backup",
		AttrJobName:           "backup-29012345",
		AttrCronJobName:       "backup",
		check.AttrContainerID: "cccc000000000000000000000000000000000000000000000000000000000003",
		check.AttrHostName:    "node-2",
	}
	debugPod = map[string]string{
		AttrNamespace:      "default",
		AttrPodName:        "debug",
		AttrContainerName:  "shell",
		check.AttrHostName: "node-2",
	}
	tools = map[string]string{
		AttrImageName:         "registry.example/tools",
		AttrImageTag:          "2.1",
		check.AttrContainerID: "dddd000000000000000000000000000000000000000000000000000000000004",
		check.AttrHostName:    "node-3",
	}
	node1 = map[string]string{check.AttrHostName: "node-1"}
	node3 = map[string]string{check.AttrHostName: "node-3"}
)

// fixtureObservations exercises every rule:
//
//   - shop/Deployment/web/nginx, two replicas on node-1 and node-2 merging
//     into one profile: NET_BIND_SERVICE granted (needed, restricted);
//     runc's runtime-setup checks with a full effective set; 4000 NOAUDIT
//     memory-commit CAP_SYS_ADMIN probes; a denied, audited CAP_SYS_ADMIN
//     mount (denied-only); a foreign-credential CAP_DAC_OVERRIDE; CAP_NET_ADMIN
//     used in a user namespace the workload made (namespaced); a declared
//     securityContext adding NET_ADMIN without dropping ALL (the diff).
//   - kube-system/DaemonSet/node-agent/agent, declared privileged: SYS_PTRACE
//     needed (privileged level), CHOWN needed on checks of unknown audit flag,
//     BPF denied.
//   - batch/CronJob/backup/backup: CHOWN and FOWNER (baseline level), patched
//     through the CronJob's job template.
//   - default/Pod/debug/shell, a bare pod: NET_RAW; no patch.
//   - image registry.example/tools:2.1 outside Kubernetes: KILL.
//   - a container known only by its id: NOAUDIT probes only, so drop ALL and
//     add nothing.
//   - host process /usr/sbin/chronyd on node-1: SYS_TIME and NET_BIND_SERVICE.
func fixtureObservations() []Observation {
	ownNS := check.UserNamespace{Level: 1, Inode: 4026532901, OwnerUID: 0, OwnerGID: 0}

	runcMount := chk(at(0), capSysAdmin, "/usr/bin/runc", "mount", 6, fullSet)
	runcSetuid := chk(at(0), capSetuid, "/usr/bin/runc", "setresuid", 1, fullSet)
	runcMount.RuntimeSetup, runcSetuid.RuntimeSetup = true, true

	bind1 := chk(at(1), capNetBindService, "/usr/sbin/nginx", "bind", 1, containerdDefault.With(capNetAdmin))
	bind2 := chk(at(2), capNetBindService, "/usr/sbin/nginx", "bind", 3, containerdDefault.With(capNetAdmin))
	probe := chk(at(3), capSysAdmin, "/usr/sbin/nginx", "mmap", 4000, containerdDefault.With(capNetAdmin))
	probe.Denied, probe.Audit = true, check.NotAudited
	mount := chk(at(4), capSysAdmin, "/usr/bin/mount", "mount", 1, containerdDefault.With(capNetAdmin))
	mount.Denied = true
	foreign := chk(at(5), capDacOverride, "/usr/sbin/nginx", "write", 2, fullSet)
	foreign.ForeignCred = true
	nsUse := chk(at(6), capNetAdmin, "/usr/sbin/ip", "sendmsg", 1, fullSet)
	nsUse.UserNS = ownNS

	ptrace := chk(at(10), capSysPtrace, "/agent", "process_vm_readv", 5, fullSet)
	agentChown := chk(at(11), capChown, "/agent", "fchownat", 2, fullSet)
	agentChown.Audit = check.AuditUnknown
	bpf := chk(at(12), capBPF, "/agent", "bpf", 1, fullSet.With(capBPF))
	bpf.Denied = true
	bpf.Effective = 0

	tarChown := chk(at(20), capChown, "/usr/bin/tar", "fchownat", 120, containerdDefault)
	tarFowner := chk(at(21), capFowner, "/usr/bin/tar", "utimensat", 120, containerdDefault)

	ping := chk(at(30), capNetRaw, "/usr/bin/ping", "socket", 1, containerdDefault)

	kill := chk(at(40), capKill, "/usr/bin/kill", "kill", 1, setOf(capKill, capChown))

	idle := chk(at(50), capSysAdmin, "/bin/sleep", "mmap", 7, setOf(capChown, capSetuid))
	idle.Denied, idle.Audit = true, check.NotAudited
	idle.Container = cgroup.Container{ID: "eeee000000000000000000000000000000000000000000000000000000000005"}

	chrony := chk(at(60), capSysTime, "/usr/sbin/chronyd", "clock_adjtime", 9, setOf(capSysTime, capNetBindService))
	chronyBind := chk(at(61), capNetBindService, "/usr/sbin/chronyd", "bind", 1, setOf(capSysTime, capNetBindService))

	return []Observation{
		{Resource: webNode1, Check: runcMount},
		{Resource: webNode1, Check: runcSetuid},
		{Resource: webNode1, Check: bind1},
		{Resource: webNode2, Check: bind2},
		{Resource: webNode2, Check: probe},
		{Resource: webNode1, Check: mount},
		{Resource: webNode1, Check: foreign},
		{Resource: webNode2, Check: nsUse},
		{Resource: agent, Check: ptrace},
		{Resource: agent, Check: agentChown},
		{Resource: agent, Check: bpf},
		{Resource: backup, Check: tarChown},
		{Resource: backup, Check: tarFowner},
		{Resource: debugPod, Check: ping},
		{Resource: tools, Check: kill},
		{Resource: node3, Check: idle},
		{Resource: node1, Check: chrony},
		{Resource: node1, Check: chronyBind},
	}
}

// runObservations are what `capprof run -- /usr/local/bin/server --port 80`
// would record: the bind, and memory-commit probes.
func runObservations() []Observation {
	bind := chk(at(0), capNetBindService, "/usr/local/bin/server", "bind", 1, setOf(capNetBindService))
	bind.UID, bind.EUID = 1000, 1000
	probe := chk(at(1), capSysAdmin, "/usr/local/bin/server", "mmap", 31, setOf(capNetBindService))
	probe.Denied, probe.Audit = true, check.NotAudited
	probe.UID, probe.EUID = 1000, 1000
	return []Observation{{Resource: node1, Check: bind}, {Resource: node1, Check: probe}}
}

// build adds observations to a new Builder and returns its profiles.
func build(obs []Observation, opts ...Option) []Profile {
	b := NewBuilder(opts...)
	for _, o := range obs {
		b.Add(o)
	}
	return b.Profiles()
}

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}
