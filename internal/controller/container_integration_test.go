//go:build integration

package controller_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/testenv"
)

// TestContainerCheckCarriesContainerAndPod runs dmesg in a containerd
// container whose cgroup is laid out as the kubelet's cgroupfs driver does,
// with host processes excluded.
func TestContainerCheckCarriesContainerAndPod(t *testing.T) {
	cd := testenv.StartContainerd(t)
	ctr := cd.RunPodContainer()

	cfg := controller.DefaultConfig()
	cfg.Tracer.IncludeHost = false
	cfg.Tracer.Caps = caps.Set(0).With(capSyslog)
	rec := start(t, cfg)
	if out, err := cd.Exec(ctr, nobody, "dmesg"); err == nil {
		t.Fatalf("dmesg as nobody succeeded in the container:\n%s", out)
	}
	hostPID := runHostDmesg(t)
	checks, _ := rec.stop(t)

	var got []check.Check
	for _, c := range checks {
		if c.PID == hostPID {
			t.Errorf("host process recorded with host processes off: %+v", c)
		}
		if c.Container.ID == ctr.ID {
			got = append(got, c)
		}
	}
	if len(got) == 0 {
		t.Fatalf("no CAP_SYSLOG check from container %s among %d records", ctr.ID, len(checks))
	}
	for _, c := range got {
		if c.Container.PodUID != ctr.PodUID || c.CgroupPath != ctr.Cgroup || !c.Denied || c.UID != nobody ||
			c.Process.ExecutablePath != "/bin/dmesg" {
			t.Errorf("unexpected record: container %+v cgroup %s denied %v uid %d exe %q",
				c.Container, c.CgroupPath, c.Denied, c.UID, c.Process.ExecutablePath)
		}
	}
}

// TestExitedContainerKeepsContainerAndPod is a short-lived container (a
// Job's, an init container): it makes its check and exits, and runc removes
// its cgroup, before the controller reads the check. The cgroup's path is
// then nowhere in the file system; the kernel's report of the cgroup's
// creation is what attributes the check.
func TestExitedContainerKeepsContainerAndPod(t *testing.T) {
	cd := testenv.StartContainerd(t)
	cfg := controller.DefaultConfig()
	cfg.Tracer.IncludeHost = false
	cfg.Tracer.Caps = caps.Set(0).With(capSyslog)
	// No batch is handed over before the recording stops (the reader waits
	// for its deadline, and so few events fill no batch): every event is
	// processed after the container and its cgroup are gone.
	cfg.MaxBatchDelay = 10 * time.Minute
	cfg.FlushInterval = 10 * time.Minute
	// Other packages' containers' process events could fill a batch before
	// the container is gone.
	cfg.CgroupInclude = []string{cd.Kubepods()}
	rec := start(t, cfg)
	if !rec.ctl.LearnsCgroups() {
		t.Fatal("the kernel's cgroup_mkdir program is not attached")
	}

	id, pod := testenv.ContainerID(), testenv.PodUID()
	cg := cd.PodCgroup(pod, id)
	code, out := cd.RunToExit(id, testenv.BusyboxImage, cg, nil, "su", "nobody", "-c", "dmesg")
	if code == 0 {
		t.Fatalf("dmesg as nobody succeeded in the container:\n%s", out)
	}
	resolver, err := cgroup.NewResolver(cgroup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(resolver.Root(), cg)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("cgroup %s still there after the container was removed (stat: %v)", cg, err)
	}
	if n := rec.ctl.Stats().Events; n != 0 {
		t.Fatalf("%d events processed before the cgroup was gone: the test would not show anything", n)
	}
	checks, _ := rec.stop(t)

	// Other packages' tests run dmesg as nobody in their own containers at
	// the same time; only the checks under this test's node are its own. A
	// check that lost its attribution is in neither set, and the test fails
	// for want of one.
	got := filter(checks, func(c *check.Check) bool {
		return c.Cap == capSyslog && (c.Container.ID == id || strings.HasPrefix(c.CgroupPath, cd.NodeRoot()+"/"))
	})
	if len(got) == 0 {
		t.Fatalf("no CAP_SYSLOG check attributed to container %s among %d records", id, len(checks))
	}
	for _, c := range got {
		if !c.Denied || c.UID != nobody || c.Container.ID != id || c.Container.PodUID != pod || c.CgroupPath != cg {
			t.Errorf("check of the exited container: denied %v uid %d container %+v cgroup %q; want denied nobody in container %s in pod %s, cgroup %s",
				c.Denied, c.UID, c.Container, c.CgroupPath, id, pod, cg)
		}
	}
}
