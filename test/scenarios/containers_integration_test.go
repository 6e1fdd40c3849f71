//go:build integration

package scenarios

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/capprof/capprof/internal/testenv"
	"github.com/capprof/capprof/test/collectortest"
)

// containerdDefaultCaps is the set containerd gives a container that asks
// for nothing (oci.WithDefaultSpec, as Kubernetes' runtime default).
var containerdDefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
	"CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// The suite in containerd containers with Kubernetes-shaped cgroups, fed
// through the real collector: the capabilities receiver recording /kubepods
// and the capability_profile connector. Each container runs as root (a
// pod without runAsUser) holding only the scenario's capability
// (capabilities: {drop: [ALL], add: [X]}); the needs-nothing one keeps the
// runtime default set. runc's own setup checks in the container's cgroup
// (setgroups, setuid, capset, mounts) are recorded and must not reach the
// advice: each container's profile advises exactly the scenario's set.
func TestScenariosInContainers(t *testing.T) {
	e := setUp(t)
	cd := testenv.StartContainerd(t)
	// root in a container without CAP_DAC_OVERRIDE writes only where root
	// may: a root-owned directory.
	rootDir := mkdir(t, filepath.Join(e.base, "root-writable"), 0o755, 0)
	collector := startProfileCollector(t, cd.Kubepods())

	type result struct {
		name, id string
		add      []string
		denied   []string
		pss      string
	}
	var results []result
	for _, sc := range []struct {
		name   string
		args   []string
		keep   string // the one capability held, "" for the runtime default set
		add    []string
		denied []string
		pss    string
		flags  []string
	}{
		{name: "bind port 80", args: []string{"bind80"}, keep: "NET_BIND_SERVICE", add: []string{"NET_BIND_SERVICE"},
			pss: "restricted", flags: []string{"--net-host"}},
		{name: "raw socket", args: []string{"rawsocket"}, keep: "NET_RAW", add: []string{"NET_RAW"}, pss: "privileged"},
		{name: "chown to another uid", args: []string{"chown", "/work", strconv.Itoa(otherUID)}, keep: "CHOWN",
			add: []string{"CHOWN"}, pss: "baseline"},
		{name: "write another user's file", args: []string{"dacoverride", "/private/file"}, keep: "DAC_OVERRIDE",
			add: []string{"DAC_OVERRIDE"}, denied: []string{"DAC_READ_SEARCH"}, pss: "baseline"},
		{name: "negative nice", args: []string{"nice"}, keep: "SYS_NICE", add: []string{"SYS_NICE"}, pss: "privileged"},
		{name: "setuid to another uid", args: []string{"setuid", strconv.Itoa(otherUID)}, keep: "SETUID",
			add: []string{"SETUID"}, pss: "baseline"},
		{name: "mknod a device", args: []string{"mknod", "/work"}, keep: "MKNOD", add: []string{"MKNOD"}, pss: "baseline"},
		{name: "needs nothing", args: []string{"nothing"}, pss: "restricted"},
	} {
		ctr := runPodContainer(t, cd, sc.keep, append([]string{
			"--mount", "type=bind,src=" + e.capscenario + ",dst=/capscenario,options=rbind:ro",
			"--mount", "type=bind,src=" + rootDir + ",dst=/work,options=rbind:rw",
			"--mount", "type=bind,src=" + filepath.Dir(e.othersFile) + ",dst=/private,options=rbind:rw",
		}, sc.flags...))
		if out, err := cd.Exec(ctr, 0, append([]string{"/capscenario"}, sc.args...)...); err != nil {
			t.Fatalf("%s in a container: %v\n%s", sc.name, err, out)
		}
		results = append(results, result{name: sc.name, id: ctr.ID, add: sc.add, denied: sc.denied, pss: sc.pss})
	}
	results = append(results, result{name: "signal another user's process", id: killInContainer(t, cd, e.capscenario),
		add: []string{"KILL"}, pss: "baseline"})
	if left, _ := os.ReadDir(rootDir); len(left) > 0 {
		t.Errorf("%s is not empty: %v", rootDir, left)
	}

	profiles, setup := collector.stop(t)
	for _, r := range results {
		p, ok := profiles[r.id]
		if !ok {
			t.Errorf("%s: no profile for container %s", r.name, r.id)
			continue
		}
		if !slices.Equal(p.add, r.add) || !slices.Equal(p.drop, []string{"ALL"}) || p.pss != r.pss {
			t.Errorf("%s: advice drop %v add %v, pss level %s; want drop [ALL] add %v, %s", r.name, p.drop, p.add, p.pss, r.add, r.pss)
		}
		if !slices.Equal(p.denied, r.denied) {
			t.Errorf("%s: attempted and denied %v, want %v", r.name, p.denied, r.denied)
		}
		// runc's setup in the container's cgroup was recorded, and
		// ignored.
		if setup[r.id] == 0 {
			t.Errorf("%s: no runtime setup checks recorded for container %s", r.name, r.id)
		}
	}
}

// killInContainer runs the kill scenario in one container holding only
// CAP_KILL: the target runs in it as otherUID (ctr task exec --user), then
// the scenario, as root, signals it. It returns the container's id.
func killInContainer(t *testing.T, cd *testenv.Containerd, capscenario string) string {
	t.Helper()
	ctr := runPodContainer(t, cd, "KILL", []string{"--mount", "type=bind,src=" + capscenario + ",dst=/capscenario,options=rbind:ro"})
	target := cd.ExecCommand(ctr, otherUID, "/capscenario", "target")
	stdout, err := target.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	// The target runs until containerd's cleanup kills the containers;
	// its ctr client is ended here.
	t.Cleanup(func() {
		_ = target.Process.Kill()
		_ = target.Wait()
	})
	pid := readyPID(t, stdout) // in the container's PID namespace
	if out, err := cd.Exec(ctr, 0, "/capscenario", "kill", strconv.Itoa(pid)); err != nil {
		t.Fatalf("kill in the container: %v\n%s", err, out)
	}
	return ctr.ID
}

// runPodContainer runs a container that sleeps, in a Kubernetes-shaped
// cgroup, holding only capability keep ("" for the runtime default set).
// The scenarios run in it with ctr task exec: a container that lives until
// the test ends keeps its cgroup, which the recorder resolves to the
// container's id.
func runPodContainer(t *testing.T, cd *testenv.Containerd, keep string, flags []string) testenv.Container {
	t.Helper()
	ctr := testenv.Container{ID: testenv.ContainerID(), PodUID: podUID()}
	ctr.Cgroup = cd.PodCgroup(ctr.PodUID, ctr.ID)
	if keep != "" {
		flags = append(flags, capFlags("CAP_"+keep)...)
	}
	ctr.PID = cd.Run(ctr.ID, testenv.BusyboxImage, ctr.Cgroup, flags, "sleep", "3600")
	return ctr
}

// capFlags are ctr run's flags for a container holding exactly keep: the
// runtime default set dropped but keep, keep added.
func capFlags(keep string) []string {
	flags := []string{"--cap-add", keep}
	for _, c := range containerdDefaultCaps {
		if c != keep {
			flags = append(flags, "--cap-drop", c)
		}
	}
	return flags
}

// podUID is a random pod UID.
func podUID() string {
	h := testenv.ContainerID()
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// collectorConfig: the receiver records the pods' cgroups only; the
// connector's interval is long, so the profiles are emitted once, at
// shutdown.
const collectorConfig = `
receivers:
  capabilities:
    include_host: false
    cgroups:
      include: [%s]
    max_batch_delay: 100ms
connectors:
  capability_profile:
    interval: 1h
exporters:
  file/profiles:
    path: %s
  file/checks:
    path: %s
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs/checks:
      receivers: [capabilities]
      exporters: [capability_profile, file/checks]
    logs/profiles:
      receivers: [capability_profile]
      exporters: [file/profiles]
`

// profileCollector is otelcol-capprof recording the pods' cgroups into the
// capability_profile connector, writing profile records and raw checks to
// files.
type profileCollector struct {
	*collectortest.Collector
	profiles, checks string
}

func startProfileCollector(t *testing.T, kubepods string) *profileCollector {
	t.Helper()
	dir := t.TempDir()
	c := &profileCollector{profiles: filepath.Join(dir, "profiles.jsonl"), checks: filepath.Join(dir, "checks.jsonl")}
	config := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(collectorConfig, kubepods, c.profiles, c.checks)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The receiver says so once its programs are attached, which may be
	// after the collector's "Everything is ready".
	c.Collector = collectortest.Start(t, collectortest.ReceiverReady, config, nil)
	return c
}

// containerProfile is what a profile record advises.
type containerProfile struct {
	add, drop, denied []string
	pss               string
}

// stop stops the collector (the connector emits its profiles on shutdown)
// and returns the profiles by container id, and per container the checks
// marked as the runtime's setup.
func (c *profileCollector) stop(t *testing.T) (map[string]containerProfile, map[string]int) {
	t.Helper()
	c.Stop(t)
	profiles := map[string]containerProfile{}
	collectortest.EachRecord(collectortest.ReadLogs(t, c.profiles), func(res pcommon.Resource, lr plog.LogRecord) {
		if lr.EventName() != "linux.capability.profile" {
			return
		}
		id, _ := res.Attributes().Get("container.id")
		pss, _ := lr.Attributes().Get("linux.capability.profile.pss_level")
		profiles[id.AsString()] = containerProfile{
			add:    collectortest.StringList(lr, "linux.capability.profile.recommended.add"),
			drop:   collectortest.StringList(lr, "linux.capability.profile.recommended.drop"),
			denied: collectortest.StringList(lr, "linux.capability.profile.denied"),
			pss:    pss.AsString(),
		}
	})
	setup := map[string]int{}
	collectortest.EachRecord(collectortest.ReadLogs(t, c.checks), func(res pcommon.Resource, lr plog.LogRecord) {
		id, _ := res.Attributes().Get("container.id")
		if v, _ := lr.Attributes().Get("linux.capability.runtime_setup"); v.Bool() {
			setup[id.AsString()]++
		}
	})
	return profiles, setup
}
