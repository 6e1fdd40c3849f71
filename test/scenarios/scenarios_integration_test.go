//go:build integration

package scenarios

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/profile"
	"github.com/capprof/capprof/internal/testenv"
)

// The users of the scenarios: the command runs as runUID, the other user
// whose file, process and uid it needs a capability for is otherUID. They
// need not exist in the user database.
const (
	runUID   = 1000
	otherUID = 1001
)

// env is what the scenarios share: the binaries, in a directory runUID can
// read, and the fixtures.
type env struct {
	capprof, capscenario string
	writable             string // a directory runUID owns, empty after each scenario
	othersFile           string // otherUID's 0600 file in otherUID's 0700 directory
	targetPID            int    // otherUID's process, ignoring SIGUSR1
	cgroupRoot           string
	base                 string // everything above is in it
}

func TestScenarios(t *testing.T) {
	e := setUp(t)
	for _, sc := range []struct {
		name string
		args []string // capscenario's
		caps string   // capprof run --caps; "": the default, all capprof holds
		add  []string // the exact advice
		// denied is the exact list of capabilities attempted and denied.
		denied []string
		pss    string
		// proven is what the verification must prove necessary; nil: each
		// of add.
		proven []string
	}{
		{name: "bind port 80", args: []string{"bind80"}, caps: "NET_BIND_SERVICE",
			add: []string{"NET_BIND_SERVICE"}, pss: profile.PSSRestricted},
		{name: "raw socket", args: []string{"rawsocket"}, caps: "NET_RAW",
			add: []string{"NET_RAW"}, pss: profile.PSSPrivileged},
		{name: "chown to another uid", args: []string{"chown", e.writable, strconv.Itoa(otherUID)}, caps: "CHOWN",
			add: []string{"CHOWN"}, pss: profile.PSSBaseline},
		// The kernel tries CAP_DAC_READ_SEARCH before CAP_DAC_OVERRIDE to
		// search the directory: held only DAC_OVERRIDE, the first is
		// attempted and denied, and must not be added.
		{name: "write another user's file", args: []string{"dacoverride", e.othersFile}, caps: "DAC_OVERRIDE",
			add: []string{"DAC_OVERRIDE"}, denied: []string{"DAC_READ_SEARCH"}, pss: profile.PSSBaseline},
		// Holding everything, both are granted and advised; the
		// verification proves only DAC_OVERRIDE necessary.
		{name: "write another user's file, holding everything", args: []string{"dacoverride", e.othersFile},
			add: []string{"DAC_OVERRIDE", "DAC_READ_SEARCH"}, pss: profile.PSSPrivileged, proven: []string{"DAC_OVERRIDE"}},
		{name: "signal another user's process", args: []string{"kill", strconv.Itoa(e.targetPID)}, caps: "KILL",
			add: []string{"KILL"}, pss: profile.PSSBaseline},
		{name: "negative nice", args: []string{"nice"}, caps: "SYS_NICE",
			add: []string{"SYS_NICE"}, pss: profile.PSSPrivileged},
		{name: "setuid to another uid", args: []string{"setuid", strconv.Itoa(otherUID)}, caps: "SETUID",
			add: []string{"SETUID"}, pss: profile.PSSBaseline},
		{name: "mknod a device", args: []string{"mknod", e.writable}, caps: "MKNOD",
			add: []string{"MKNOD"}, pss: profile.PSSBaseline},
		// Holding every capability, it needs none.
		{name: "needs nothing", args: []string{"nothing"}, pss: profile.PSSRestricted},
		{name: "needs nothing, holds nothing", args: []string{"nothing"}, caps: "none", pss: profile.PSSRestricted},
	} {
		t.Run(sc.name, func(t *testing.T) {
			args := []string{"run", "--user", strconv.Itoa(runUID), "--verify", "--format", "json"}
			if sc.caps != "" {
				args = append(args, "--caps", sc.caps)
			}
			args = append(append(args, "--", e.capscenario), sc.args...)
			stdout, stderr := e.run(t, 0, args...)
			profiles, err := profile.ReadJSON(strings.NewReader(stdout))
			if err != nil || len(profiles) != 1 {
				t.Fatalf("want one profile (%v):\n%s\n%s", err, stdout, stderr)
			}
			p := profiles[0]
			a := p.Advice
			if !slices.Equal(a.Drop, []string{"ALL"}) || !slices.Equal(a.Add, orEmpty(sc.add)) || a.PSSLevel != sc.pss {
				t.Errorf("advice drop %v add %v, pss level %s; want drop [ALL] add %v, %s", a.Drop, a.Add, a.PSSLevel, sc.add, sc.pss)
			}
			if !slices.Equal(a.Denied, orEmpty(sc.denied)) {
				t.Errorf("attempted and denied %v, want %v", a.Denied, orEmpty(sc.denied))
			}
			v := p.Verification
			if v == nil {
				t.Fatalf("no verification:\n%s", stdout)
			}
			if !v.Verified || v.Recorded != "exit status 0" || v.User != fmt.Sprintf("%d:%d", runUID, runUID) {
				t.Errorf("verification %+v, want verified as %d with exit status 0", v, runUID)
			}
			var proven []string
			for _, w := range v.Without {
				if w.Necessary {
					proven = append(proven, w.Name)
				}
			}
			wantProven := sc.proven
			if wantProven == nil {
				wantProven = sc.add
			}
			if !slices.Equal(proven, wantProven) || len(v.Without) != len(sc.add) {
				t.Errorf("proven necessary %v, want %v, one run without each of %v (%+v)", proven, wantProven, sc.add, v.Without)
			}
			if t.Failed() {
				t.Logf("capprof run's stderr:\n%s", stderr)
			}
			e.assertClean(t)
		})
	}
}

// The sentence of issue #5: a program that binds port 80 as uid 1000,
// recorded holding everything capprof holds (the default), in the table
// format.
func TestBindPort80AsUID1000(t *testing.T) {
	e := setUp(t)
	stdout, _ := e.run(t, 0, "run", "--user", strconv.Itoa(runUID), "--verify", "--", e.capscenario, "bind80")
	for _, want := range []string{
		"  advice      drop ALL; add NET_BIND_SERVICE\n",
		"  pss level   restricted\n",
		"  verify      verified: as 1000:1000 with exactly [NET_BIND_SERVICE]: exit status 0, as recorded\n",
		"              NET_BIND_SERVICE proven necessary: without it, exit status 1\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	e.assertClean(t)
}

// A verification that fails makes capprof run exit 1: the command, given a
// capability it does not use, fails whenever it holds it.
func TestVerificationFailureExits1(t *testing.T) {
	e := setUp(t)
	script := `grep -q '^CapEff:[[:space:]]*0*$' /proc/self/status`
	stdout, stderr := e.run(t, 1, "run", "--user", strconv.Itoa(runUID), "--caps", "SYS_NICE", "--verify", "--format", "json",
		"--", "sh", "-c", script)
	profiles, err := profile.ReadJSON(strings.NewReader(stdout))
	if err != nil || len(profiles) != 1 || profiles[0].Verification == nil {
		t.Fatalf("want one verified profile (%v):\n%s\n%s", err, stdout, stderr)
	}
	v := profiles[0].Verification
	if v.Verified || v.Recorded != "exit status 1" || v.Advised != "exit status 0" {
		t.Errorf("verification %+v, want not verified: recorded exit status 1, exit status 0 with nothing", v)
	}
	if !strings.Contains(stderr, "the advice is not verified") {
		t.Errorf("stderr lacks the failure:\n%s", stderr)
	}
	e.assertClean(t)
}

// A command that leaves a process running: with --wait main or at
// --timeout capprof kills it with the recorded run's cgroup and with each
// verification run's.
func TestLeftRunningIsKilled(t *testing.T) {
	e := setUp(t)
	for _, tc := range []struct {
		name string
		wait []string
	}{
		{name: "--wait main", wait: []string{"--wait", "main"}},
		{name: "--timeout", wait: []string{"--timeout", "500ms"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run", "--user", strconv.Itoa(runUID), "--caps", "none", "--verify"}, tc.wait...)
			e.run(t, 0, append(args, "--", "sh", "-c", `"$0" target >/dev/null & exit 0`, e.capscenario)...)
			e.assertClean(t)
		})
	}
}

// orEmpty makes a nil list the empty one the JSON output has.
func orEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// run runs capprof with args and wants exit code want.
func (e *env) run(t *testing.T, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(e.capprof, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	if code := cmd.ProcessState.ExitCode(); code != want {
		t.Fatalf("capprof %s: exit %d, want %d:\n%s\n%s", strings.Join(args, " "), code, want, out.String(), errOut.String())
	}
	left, _ := filepath.Glob(filepath.Join(e.cgroupRoot, fmt.Sprintf("capprof-*-%d-*", cmd.Process.Pid)))
	if len(left) > 0 {
		t.Errorf("capprof left cgroups behind: %v", left)
	}
	return out.String(), errOut.String()
}

// assertClean checks that the scenario left nothing behind: no file in the
// writable directory, no process of runUID running the test's binaries.
func (e *env) assertClean(t *testing.T) {
	t.Helper()
	if left, _ := os.ReadDir(e.writable); len(left) > 0 {
		t.Errorf("%s is not empty: %v", e.writable, left)
	}
	if pids := e.processesOf(runUID); len(pids) > 0 {
		t.Errorf("processes of uid %d left running: %v", runUID, pids)
	}
}

// processesOf lists the processes of uid (owning their /proc directory)
// that run a binary of the test's.
func (e *env) processesOf(uid int) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, d := range entries {
		var st syscall.Stat_t
		if _, err := strconv.Atoi(d.Name()); err != nil || syscall.Stat("/proc/"+d.Name(), &st) != nil || int(st.Uid) != uid {
			continue
		}
		if exe, _ := os.Readlink("/proc/" + d.Name() + "/exe"); strings.HasPrefix(exe, e.base+"/") {
			pids = append(pids, d.Name()+" "+exe)
		}
	}
	return pids
}

// setUp builds capprof and capscenario and makes the fixtures; everything
// is removed at cleanup.
func setUp(t *testing.T) *env {
	t.Helper()
	prereq.RequireRoot(t)
	prereq.RequireCommands(t, "go")
	r, err := cgroup.NewResolver(cgroup.Options{})
	if err != nil {
		prereq.Missing(t, "a cgroup2 mount: %v", err)
	}
	// t.TempDir's parent is 0700: runUID must reach the binaries.
	base, err := os.MkdirTemp("", "capprof-scenarios-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	e := &env{cgroupRoot: r.Root(), base: base}
	mkdir(t, base, 0o755, 0)
	e.capprof = build(t, base, "../../cmd/capprof")
	e.capscenario = build(t, base, "./capscenario")

	e.writable = mkdir(t, filepath.Join(base, "writable"), 0o755, runUID)
	private := mkdir(t, filepath.Join(base, "private"), 0o700, otherUID)
	e.othersFile = filepath.Join(private, "file")
	if err := os.WriteFile(e.othersFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(e.othersFile, otherUID, otherUID); err != nil {
		t.Fatal(err)
	}
	e.targetPID = startTarget(t, e.capscenario)
	requireUnprivilegedPortAbove80(t)
	requirePort80Free(t)
	return e
}

// build compiles the package at dir (relative to this file) into base.
func build(t *testing.T, base, dir string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	out := filepath.Join(base, filepath.Base(dir))
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = filepath.Join(filepath.Dir(file), dir)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", dir, err, b)
	}
	return out
}

// mkdir makes (or chmods) dir with mode, owned by uid.
func mkdir(t *testing.T, dir string, mode os.FileMode, uid int) string {
	t.Helper()
	if err := os.Mkdir(dir, mode); err != nil && !errors.Is(err, os.ErrExist) {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, uid); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startTarget starts `capscenario target` as otherUID in a cgroup of the
// test's, and waits until it ignores SIGUSR1.
func startTarget(t *testing.T, capscenario string) int {
	t.Helper()
	cg := testenv.NewCgroup(t) // its removal kills whatever the target started
	cmd := exec.Command(capscenario, "target")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		UseCgroupFD: true, CgroupFD: int(cg.File.Fd()),
		Credential: &syscall.Credential{Uid: otherUID, Gid: otherUID},
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return readyPID(t, stdout)
}

// readyPID reads `capscenario target`'s "ready PID" line.
func readyPID(t *testing.T, r io.Reader) int {
	t.Helper()
	line, err := bufio.NewReader(r).ReadString('\n')
	var pid int
	if _, serr := fmt.Sscanf(line, "ready %d\n", &pid); err != nil || serr != nil {
		t.Fatalf("target said %q: %v %v", line, err, serr)
	}
	return pid
}

// requireUnprivilegedPortAbove80 makes binding port 80 need
// CAP_NET_BIND_SERVICE in this network namespace for the test, and restores
// the setting.
func requireUnprivilegedPortAbove80(t *testing.T) {
	t.Helper()
	const sysctl = "/proc/sys/net/ipv4/ip_unprivileged_port_start"
	b, err := os.ReadFile(sysctl)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.TrimSpace(string(b))
	if n, err := strconv.Atoi(old); err == nil && n > 80 {
		return
	}
	if err := os.WriteFile(sysctl, []byte("1024"), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(sysctl, []byte(old), 0); err != nil {
			t.Errorf("restore %s to %s: %v", sysctl, old, err)
		}
	})
}

// requirePort80Free fails early, with the reason, when something listens
// where the bind scenario binds.
func requirePort80Free(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:80")
	if err != nil {
		t.Fatalf("the bind scenario needs 127.0.0.1:80 free: %v", err)
	}
	l.Close()
}
