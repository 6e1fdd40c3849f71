//go:build integration

package controller_test

import (
	"testing"

	"github.com/capprof/capprof/internal/caps"
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
