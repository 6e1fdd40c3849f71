//go:build integration

package controller_test

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/profile"
	"github.com/capprof/capprof/internal/testenv"
	"github.com/capprof/capprof/internal/tracer"
)

// TestRuntimeSetupMarkedWhateverTheFilters starts real containerd
// containers in a Kubernetes-shaped cgroup while several recordings run
// side by side on the same kernel: a reference that follows containerd's
// process tree (so it records the exec of every runc init and knows each
// process by its argv), and recordings filtered as production agents are,
// which drop that exec. Each filtered check is matched to the reference's
// record of the same check: it must be marked runtime_setup exactly as the
// reference marked it, and exactly when the reference saw it made by runc
// init (but in the entrypoint's execve, see inExec); the profiles built
// from each recording must advise nothing from runc.
func TestRuntimeSetupMarkedWhateverTheFilters(t *testing.T) {
	cd := testenv.StartContainerd(t)
	kubepods := []string{cd.Kubepods()}

	ref := controller.DefaultConfig()
	ref.PIDTree = containerdPID(t, cd)
	filtered := []struct {
		name        string
		includeHost bool
		cgroups     []string
		mode        tracer.Mode
	}{
		{name: "host processes off", includeHost: false},
		{name: "cgroup include /kubepods", includeHost: true, cgroups: kubepods},
		{name: "host off and /kubepods", includeHost: false, cgroups: kubepods},
		{name: "host off and /kubepods, unique", includeHost: false, cgroups: kubepods, mode: tracer.Unique},
	}
	refRec := start(t, quick(ref))
	recs := make([]*recording, len(filtered))
	for i, f := range filtered {
		cfg := controller.DefaultConfig()
		cfg.Tracer.IncludeHost = f.includeHost
		cfg.CgroupInclude = f.cgroups
		cfg.Tracer.Mode = f.mode // the zero value is Stream
		recs[i] = start(t, quick(cfg))
	}

	// Two container starts and a `runc exec` (whose runc init joins the
	// container too) of dmesg as nobody, denied CAP_SYSLOG.
	app := cd.RunPodContainer()
	sidecar := cd.RunContainerInPod(app.PodUID)
	if out, err := cd.Exec(app, nobody, "dmesg"); err == nil {
		t.Fatalf("dmesg as nobody succeeded in the container:\n%s", out)
	}
	ours := map[string]bool{app.ID: true, sidecar.ID: true}

	refChecks, refStats := refRec.stop(t)
	truth := newReference(refChecks, ours)
	if truth.setup == 0 {
		t.Fatalf("the reference saw no check by runc init among %d checks", len(refChecks))
	}
	t.Run("reference", func(t *testing.T) {
		for _, c := range refChecks {
			if ours[c.Container.ID] && c.RuntimeSetup != isRuncInit(&c) && !inExec(&c) {
				t.Errorf("%s by tid %d (syscall %s, process %v): runtime_setup %v, made by runc init %v",
					c.Body(), c.TID, c.SyscallName, c.Process.Args, c.RuntimeSetup, !c.RuntimeSetup)
			}
		}
	})
	for i, f := range filtered {
		checks, stats := recs[i].stop(t)
		if stats.Lost != 0 || refStats.Lost != 0 {
			t.Fatalf("%s: events lost (%d, reference %d): the comparison would be void", f.name, stats.Lost, refStats.Lost)
		}
		t.Run(f.name, func(t *testing.T) {
			var setup, own, syslog, boundary int
			ownCaps := map[string]bool{}
			matched := map[checkID][2]bool{} // the marks of matched records: [unmarked, marked]
			var unmatched []check.Check
			b := profile.NewBuilder()
			for _, c := range checks {
				if !ours[c.Container.ID] {
					continue
				}
				b.Add(observationOf(&c))
				rc, ok := truth.match(&c)
				switch {
				case !ok:
					unmatched = append(unmatched, c)
				case rc.marked != c.RuntimeSetup:
					t.Errorf("%s by tid %d (syscall %s, process %v): runtime_setup %v, with every exec recorded %v",
						c.Body(), c.TID, c.SyscallName, c.Process.Args, c.RuntimeSetup, rc.marked)
				case rc.byRunc != c.RuntimeSetup && inExec(&c):
					boundary++
				case rc.byRunc != c.RuntimeSetup:
					t.Errorf("%s by tid %d (syscall %s, process %v): runtime_setup %v, but made by runc init: %v",
						c.Body(), c.TID, c.SyscallName, c.Process.Args, c.RuntimeSetup, rc.byRunc)
				}
				if ok {
					m := matched[idOf(&c)]
					m[b2i(c.RuntimeSetup)] = true
					matched[idOf(&c)] = m
				}
				switch {
				case c.Cap == capSyslog && c.SyscallName == "syslog":
					syslog++
					if c.RuntimeSetup {
						t.Errorf("dmesg's CAP_SYSLOG check marked as runtime setup: %+v", c.Process)
					}
				case c.RuntimeSetup:
					setup++
				default:
					own++
				}
				if !c.RuntimeSetup {
					ownCaps[strings.TrimPrefix(caps.Name(c.Cap), "CAP_")] = true
				}
			}
			for _, c := range unmatched {
				// Unique mode reports a key's later hits at flush time, with
				// the context of its first check.
				if f.mode != tracer.Unique || !matched[idOf(&c)][b2i(c.RuntimeSetup)] {
					t.Errorf("no reference record for %s by tid %d (syscall %s) at %s, runtime_setup %v",
						c.Body(), c.TID, c.SyscallName, c.Time.Format(time.StampMicro), c.RuntimeSetup)
				}
			}
			if setup == 0 || syslog == 0 {
				t.Errorf("runtime setup checks %d, dmesg CAP_SYSLOG checks %d: want both", setup, syslog)
			}
			// Nothing from runc: the advice adds nothing (sleep and dmesg
			// need nothing granted) and lists only the containers' own
			// denials (dmesg's CAP_SYSLOG, busybox's setuid and setgid).
			for _, p := range b.Profiles() {
				if len(p.Advice.Add) != 0 {
					t.Errorf("profile %s advises adding %v", p.ID, p.Advice.Add)
				}
				for _, d := range p.Advice.Denied {
					if !ownCaps[d] {
						t.Errorf("profile %s lists %s as denied, which only the runtime's setup checked", p.ID, d)
					}
				}
			}
			t.Logf("runtime setup %d, own %d (dmesg CAP_SYSLOG %d, in the entrypoint's exec %d); reference: runc init %d of %d",
				setup, own, syslog, boundary, truth.setup, truth.total)
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// inExec: a check made in an execve of the entrypoint may come before the
// exec's point of no return (runc's, still runc:[2:INIT]) or after it
// (the new image's), while the reference's process cache learns of the
// exec only at its end.
func inExec(c *check.Check) bool {
	return c.SyscallName == "execve" || c.SyscallName == "execveat"
}

// quick flushes often, for a test that stops soon after the last check.
func quick(cfg controller.Config) controller.Config {
	cfg.FlushInterval = 200 * time.Millisecond
	cfg.MaxBatchDelay = 200 * time.Millisecond
	return cfg
}

// observationOf goes through the record attributes, as the connector and
// `capprof profile` read them back.
func observationOf(c *check.Check) profile.Observation {
	values := func(attrs []check.Attr) map[string]any {
		m := make(map[string]any, len(attrs))
		for _, a := range attrs {
			m[a.Key] = a.Value()
		}
		return m
	}
	return profile.NewResource(values(c.Resource())).Observation(values(c.Attributes()), c.Time)
}

// containerdPID finds the test's containerd by its private directory.
func containerdPID(t *testing.T, cd *testenv.Containerd) uint32 {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	want := []byte(filepath.Join(cd.Dir(), "config.toml"))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.HasPrefix(cmdline, []byte("containerd\x00")) && bytes.Contains(cmdline, want) {
			return uint32(pid)
		}
	}
	t.Fatalf("no containerd process with config %s", want)
	return 0
}

// reference is what the recording that saw every exec says of each check
// in the test's containers: made by runc init (argv "runc init", which its
// clones keep) or not.
type reference struct {
	byCheck      map[checkID][]refCheck
	setup, total int
}

// checkID identifies one kernel check up to its time, which each recording
// reads separately.
type checkID struct {
	tid     uint32
	cap     int
	syscall int
	denied  bool
	cgroup  uint64
}

type refCheck struct {
	at     time.Time
	byRunc bool // made by runc init, as the reference's process cache says
	marked bool // the reference's runtime_setup
}

func newReference(checks []check.Check, ours map[string]bool) *reference {
	r := &reference{byCheck: map[checkID][]refCheck{}}
	for _, c := range checks {
		if !ours[c.Container.ID] {
			continue
		}
		byRunc := isRuncInit(&c)
		id := idOf(&c)
		r.byCheck[id] = append(r.byCheck[id], refCheck{at: c.Time, byRunc: byRunc, marked: c.RuntimeSetup})
		r.total++
		if byRunc {
			r.setup++
		}
	}
	for _, l := range r.byCheck {
		sort.Slice(l, func(i, j int) bool { return l[i].at.Before(l[j].at) })
	}
	return r
}

func idOf(c *check.Check) checkID {
	return checkID{tid: c.TID, cap: c.Cap, syscall: c.Syscall, denied: c.Denied, cgroup: c.CgroupID}
}

// maxSkew bounds how far apart two recordings time the same check: each
// program reads the clock itself, and each recording converts boot time to
// wall time from its own reading of the clocks.
const maxSkew = time.Millisecond

// match returns the reference's record of the same check as c: the one
// nearest in time, within maxSkew.
func (r *reference) match(c *check.Check) (refCheck, bool) {
	var found refCheck
	best := maxSkew + 1
	for _, rc := range r.byCheck[idOf(c)] {
		if d := rc.at.Sub(c.Time).Abs(); d < best {
			best, found = d, rc
		}
	}
	return found, best <= maxSkew
}

// isRuncInit: the reference's process cache, which saw every exec, names
// runc init by its argv, which its clones keep until the entrypoint's exec.
func isRuncInit(c *check.Check) bool {
	args := c.Process.Args
	return len(args) > 1 && path.Base(args[0]) == "runc" && args[1] == "init"
}
