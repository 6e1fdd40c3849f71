//go:build integration

package controller_test

import (
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/proc"
	"github.com/capprof/capprof/internal/testenv"
)

// TestHostDmesgCarriesItsProcessContext: the CAP_SYSLOG record of a host
// dmesg carries the namespaces the test itself runs in (dmesg inherits
// them), which are the host's when the test's are, the login uid set
// before its parent shell's exec, and the parent's uid, working directory
// and arguments. The shell waits on its stdin until the record is in, so that
// the cache reads its working directory while it lives.
func TestHostDmesgCarriesItsProcessContext(t *testing.T) {
	cg := testenv.NewCgroup(t)
	cfg := configIn(cg)
	cfg.Tracer.Caps = caps.Set(0).With(capSyslog)
	rec := start(t, cfg)

	// As pam_loginuid does in a login's process before it execs the
	// shell: the kernel reads the login uid at exec.
	const loginUID = 4321
	dir := t.TempDir()
	script := "setpriv " + strings.Join(asNobody("dmesg"), " ") + "; read done; true"
	sh := cg.Command("sh", "-c", `echo $0 > /proc/self/loginuid && exec sh -c "$1"`, strconv.Itoa(loginUID), script)
	sh.Dir = dir
	stdin, err := sh.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "dmesg's CAP_SYSLOG record", func() bool {
		return len(rec.sink.matching(func(c *check.Check) bool { return c.Cap == capSyslog })) > 0
	})
	stdin.Close()
	if err := sh.Wait(); err != nil {
		t.Fatalf("sh: %v", err)
	}
	checks, _ := rec.stop(t)

	syslog := filter(checks, func(c *check.Check) bool { return c.Cap == capSyslog })
	if len(syslog) == 0 {
		t.Fatalf("no CAP_SYSLOG record among %d", len(checks))
	}
	self, host := namespacesOf(t, "self"), hostNamespaces(t)
	for _, c := range syslog {
		x := c.Process.Context
		if c.Process.ExecutablePath != "/usr/bin/dmesg" || x == nil || x.Flags != proc.FlagExec {
			t.Fatalf("CAP_SYSLOG of %q, context %+v: want dmesg's, learned from its exec", c.Process.ExecutablePath, x)
		}
		p := &x.Parent
		for k := range proc.NumNamespaceKinds {
			if self[k] == 0 {
				continue // a kernel without time namespaces
			}
			if x.Namespaces[k] != self[k] || x.HostNamespaces.Has(k) != (self[k] == host[k]) {
				t.Errorf("namespace %s: inode %d, is_host %v; want %d (/proc/self/ns), %v (the host's: %d)",
					k, x.Namespaces[k], x.HostNamespaces.Has(k), self[k], self[k] == host[k], host[k])
			}
			// And in the attributes, where they cost once per process.
			if a, ok := find(c.Resource(), check.NamespaceInodeKey(k)); !ok || a.Int != int64(self[k]) {
				t.Errorf("resource attribute %s = %+v, want %d", check.NamespaceInodeKey(k), a, self[k])
			}
		}
		if self[proc.NSPID] == host[proc.NSPID] && x.VPID != c.PID {
			t.Errorf("vpid %d in the host's pid namespace, want the pid %d", x.VPID, c.PID)
		}
		if x.LoginUID != loginUID || p.LoginUID != loginUID {
			t.Errorf("login uid %d, parent's %d; want %d, as the shell set it", x.LoginUID, p.LoginUID, loginUID)
		}
		if p.UID != uint32(os.Getuid()) || p.EUID != uint32(os.Geteuid()) {
			t.Errorf("parent's uids %d/%d, want the test's %d/%d", p.UID, p.EUID, os.Getuid(), os.Geteuid())
		}
		if p.WorkingDirectory != dir || !slices.Equal(p.Args, []string{"sh", "-c", script}) {
			t.Errorf("parent's cwd %q, args %q; want %q, [sh -c %q]", p.WorkingDirectory, p.Args, dir, script)
		}
		if age := time.Since(p.StartTime); age < 0 || age > time.Minute || p.Flags != proc.FlagExec {
			t.Errorf("parent's start %s, learned %v: want a moment ago, from its exec", p.StartTime, p.Flags.Names())
		}
		if !x.PIDNamespaceStart.IsZero() && self[proc.NSPID] == host[proc.NSPID] {
			t.Errorf("a host process's pid namespace start %s, want none", x.PIDNamespaceStart)
		}
	}
}

// TestContainerDmesgCarriesItsContainersContext: dmesg exec'd in a
// containerd container runs in the namespaces of the container's first
// process: never the host's uts, ipc, mnt, pid and net; the host's user and
// time (containerd makes neither), and cgroup where it makes none (cgroup
// v1 and hybrid hosts). Its vpid is its pid in the container, as the shell
// it replaced saw it ($$); the container's start is its first process's.
func TestContainerDmesgCarriesItsContainersContext(t *testing.T) {
	cd := testenv.StartContainerd(t)
	before := time.Now()
	ctr := cd.RunPodContainer()

	cfg := controller.DefaultConfig()
	cfg.Tracer.Caps = caps.Set(0).With(capSyslog)
	cfg.CgroupInclude = []string{ctr.Cgroup}
	rec := start(t, cfg)
	// The path, or busybox's sh re-executes itself as the applet.
	out, err := cd.Exec(ctr, nobody, "sh", "-c", "echo $$; exec /bin/dmesg 2>/dev/null")
	if err == nil {
		t.Fatalf("dmesg as nobody succeeded in the container:\n%s", out)
	}
	vpid, perr := strconv.ParseUint(strings.TrimSpace(out), 10, 32)
	if perr != nil {
		t.Fatalf("the shell's pid in the container, from %q: %v", out, perr)
	}
	checks, _ := rec.stop(t)

	got := filter(checks, func(c *check.Check) bool { return c.Container.ID == ctr.ID && c.Cap == capSyslog })
	if len(got) == 0 {
		t.Fatalf("no CAP_SYSLOG record of container %s among %d", ctr.ID, len(checks))
	}
	init, host := namespacesOf(t, strconv.Itoa(ctr.PID)), hostNamespaces(t)
	for _, k := range []proc.NamespaceKind{proc.NSUTS, proc.NSIPC, proc.NSMnt, proc.NSPID, proc.NSPIDForChildren, proc.NSNet} {
		if init[k] == host[k] {
			t.Fatalf("the container's %s namespace is the host's", k)
		}
	}
	if init[proc.NSUser] != host[proc.NSUser] || init[proc.NSTime] != host[proc.NSTime] {
		t.Errorf("the container has a user or time namespace of its own: containerd makes neither")
	}
	for _, c := range got {
		x := c.Process.Context
		if c.Process.ExecutablePath != "/bin/dmesg" || x == nil {
			t.Fatalf("CAP_SYSLOG of %q, context %+v: want /bin/dmesg's", c.Process.ExecutablePath, x)
		}
		for k := range proc.NumNamespaceKinds {
			if init[k] == 0 {
				continue
			}
			if x.Namespaces[k] != init[k] || x.HostNamespaces.Has(k) != (init[k] == host[k]) {
				t.Errorf("namespace %s: inode %d, is_host %v; want the container's %d, %v",
					k, x.Namespaces[k], x.HostNamespaces.Has(k), init[k], init[k] == host[k])
			}
		}
		if x.VPID != uint32(vpid) || c.PID == x.VPID {
			t.Errorf("vpid %d (pid %d), want %d: its pid in the container", x.VPID, c.PID, vpid)
		}
		if s := x.PIDNamespaceStart; s.Before(before.Add(-time.Second)) || s.After(time.Now()) {
			t.Errorf("container start %s, want between %s and now", s, before)
		}
		if a, ok := find(c.Resource(), check.AttrContainerTime); !ok || a.Str == "" {
			t.Errorf("no %s resource attribute", check.AttrContainerTime)
		}
	}
}

// hostNamespaces are the namespaces the controller takes for the host's.
func hostNamespaces(t *testing.T) proc.Namespaces {
	t.Helper()
	ns, err := proc.HostNamespaces("/proc", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// namespacesOf reads /proc/<pid>/ns: 0 for a link the kernel lacks.
func namespacesOf(t *testing.T, pid string) proc.Namespaces {
	t.Helper()
	var ns proc.Namespaces
	for k := range proc.NumNamespaceKinds {
		var st syscall.Stat_t
		if err := syscall.Stat("/proc/"+pid+"/ns/"+k.String(), &st); err == nil {
			ns[k] = uint32(st.Ino)
		} else if !os.IsNotExist(err) {
			t.Fatalf("read namespace %s of %s: %v", k, pid, err)
		}
	}
	return ns
}

func find(attrs []check.Attr, key string) (check.Attr, bool) {
	for _, a := range attrs {
		if a.Key == key {
			return a, true
		}
	}
	return check.Attr{}, false
}

// matching returns the checks written so far that keep selects.
func (c *collector) matching(keep func(*check.Check) bool) []check.Check {
	c.mu.Lock()
	defer c.mu.Unlock()
	return filter(c.checks, keep)
}
