//go:build integration

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/profile"
)

func capprofRun(t *testing.T, args ...string) string {
	t.Helper()
	prereq.RequireRoot(t)
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"run"}, args...), &stdout, &stderr); code != 0 {
		t.Fatalf("capprof run exited %d:\n%s", code, stderr.String())
	}
	return stdout.String()
}

func TestRunAdvisesWhatTheCommandNeeds(t *testing.T) {
	owned := filepath.Join(t.TempDir(), "owned")
	if err := os.WriteFile(owned, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(owned, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	out := capprofRun(t, "--", "chown", "0:0", owned)
	for _, want := range []string{"command chown 0:0 " + owned, "CAP_CHOWN", "needed", "drop ALL; add CHOWN", "pss level   baseline"} {
		if !strings.Contains(out, want) {
			t.Errorf("profile lacks %q:\n%s", want, out)
		}
	}
}

func TestRunAdvisesNothingForAProgramThatNeedsNothing(t *testing.T) {
	// Allocates memory and execs children: NOAUDIT probes only.
	out := capprofRun(t, "--format", "docker", "--", "sh", "-c", `x=$(seq 1 20000 | sort -n | tail -1); ls / >/dev/null`)
	if !strings.Contains(out, "--cap-drop=ALL") || strings.Contains(out, "--cap-add") {
		t.Errorf("want --cap-drop=ALL and nothing added:\n%s", out)
	}
	if !strings.Contains(out, "restricted") {
		t.Errorf("want the restricted Pod Security Standards level:\n%s", out)
	}
}

func TestRunVerifyProvesTheAdvice(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Each run gives the file away and takes it back: CAP_CHOWN every time.
	out := capprofRun(t, "--verify", "--", "sh", "-c", `chown 65534 "$0" && chown 0 "$0"`, file)
	for _, want := range []string{"drop ALL; add CHOWN", "verified: as 0:0 with exactly [CHOWN]: exit status 0, as recorded", "CHOWN proven necessary: without it, exit status 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out = capprofRun(t, "--verify", "--format", "docker", "--", "sh", "-c", `seq 1 1000 | sort >/dev/null`)
	if !strings.Contains(out, "# verified: as 0:0 with exactly [none]: exit status 0, as recorded") {
		t.Errorf("a command that needs nothing must verify with nothing:\n%s", out)
	}
}

// forks is a program that forks a worker and returns, as daemons do; the
// worker needs CAP_SYS_CHROOT after its parent has exited.
var forks = []string{"sh", "-c", "(sleep 0.5; chroot / true) & exit 0"}

func TestRunRecordsUntilTheCgroupIsEmpty(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
		want  string
	}{
		{name: "every process", want: "drop ALL; add SYS_CHROOT"},
		{name: "--wait main", flags: []string{"--wait", "main"}, want: "drop ALL; add none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := capprofRun(t, append(append(tc.flags, "--"), forks...)...)
			if !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
		})
	}
}

// The worker's exit and checks prove SYS_CHROOT necessary although sh exits
// 0 with or without it.
func TestRunVerifyComparesChecks(t *testing.T) {
	out := capprofRun(t, append([]string{"--verify", "--"}, forks...)...)
	for _, want := range []string{
		"drop ALL; add SYS_CHROOT",
		"verified: as 0:0 with exactly [SYS_CHROOT]: exit status 0, as recorded",
		"SYS_CHROOT proven necessary: without it, exit status 0 as well, but:",
		"  chroot / true: CAP_SYS_CHROOT denied, granted when recorded",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// SYS_CHROOT left out of the verification's set: caught.
	resolver, err := cgroup.NewResolver(cgroup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	spec := launchSpec{command: forks, caps: caps.Set(0).With(18)} // CAP_SYS_CHROOT
	log := slog.New(slog.DiscardHandler)
	rec, err := record(resolver, spec, false, log, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifyAdvice(resolver, spec, nil, rec, log, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if v.Verified || v.Advised != "exit status 0" || !slices.Contains(v.Differences, "chroot / true: CAP_SYS_CHROOT denied, granted when recorded") {
		t.Errorf("verification without SYS_CHROOT %+v, want not verified for chroot's denied check although sh exits 0", v)
	}
}

// A daemon runs until --timeout kills it, in the recorded run and in each
// verification run; its checks and its workers' exits verify the advice.
func TestRunTimeoutStopsADaemon(t *testing.T) {
	owned := filepath.Join(t.TempDir(), "owned")
	if err := os.WriteFile(owned, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	prereq.RequireRoot(t)
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--timeout", "1s", "--verify", "--",
		"sh", "-c", `while :; do chown 65534 "$0" && chown 0 "$0"; sleep 0.1; done`, owned}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{
		"  stopped     killed at the 1s timeout: ",
		"drop ALL; add CHOWN",
		"verified: as 0:0 with exactly [CHOWN]: signal: killed, as recorded",
		"CHOWN proven necessary: without it, signal: killed as well, but:",
		"CAP_CHOWN denied, granted when recorded",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	if !strings.Contains(stderr.String(), "capprof run: killed at the 1s timeout: ") {
		t.Errorf("stderr does not say the timeout killed the command:\n%s", stderr.String())
	}
}

// Debian's nginx under timeout(1) exits 124 with or without SETUID and
// SETGID: without them its workers fail and the master runs on until
// timeout ends it. The workers' denied checks prove both necessary.
func TestRunVerifyNginx(t *testing.T) {
	prereq.RequireRoot(t)
	prereq.RequireCommands(t, "nginx", "timeout")
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`user www-data;
worker_processes 2;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {}
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	server { listen 127.0.0.1:%[2]d; }
}
`, dir, privilegedPort(t))), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	out := capprofRun(t, "--verify", "--format", "json", "--", "timeout", "-s", "QUIT", "3", "nginx", "-c", conf, "-g", "daemon off;")
	profiles, err := profile.ReadJSON(strings.NewReader(out))
	if err != nil || len(profiles) != 1 || profiles[0].Verification == nil {
		t.Fatalf("want one verified profile (%v):\n%s", err, out)
	}
	p := profiles[0]
	if !slices.Contains(p.Advice.Add, "SETUID") || !slices.Contains(p.Advice.Add, "SETGID") {
		t.Errorf("advice %v lacks SETUID and SETGID", p.Advice.Add)
	}
	v := p.Verification
	if !v.Verified || v.Recorded != "exit status 124" {
		t.Errorf("verification %+v, want verified with exit status 124", v)
	}
	for _, w := range v.Without {
		if w.Name != "SETUID" && w.Name != "SETGID" {
			continue
		}
		denied := "CAP_" + w.Name + " denied, granted when recorded"
		if !w.Necessary || w.Exit != "exit status 124" || !slices.ContainsFunc(w.Differences, func(d string) bool { return strings.HasSuffix(d, denied) }) {
			t.Errorf("without %s: %+v, want proven necessary by %q although timeout exits 124", w.Name, w, denied)
		}
	}
}

// privilegedPort returns a port below 1024 that nothing listens on now.
func privilegedPort(t *testing.T) int {
	t.Helper()
	for port := 800; port < 1000; port++ {
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port between 800 and 999")
	return 0
}

func TestRunVerifyFailsWhenTheCommandBehavesDifferently(t *testing.T) {
	prereq.RequireRoot(t)
	marker := filepath.Join(t.TempDir(), "ran-once")
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--verify", "--", "sh", "-c", `test -e "$0" && exit 3; touch "$0"`, marker}, &stdout, &stderr)
	if code != exitFailure {
		t.Errorf("exit %d, want %d:\n%s%s", code, exitFailure, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "NOT verified") || !strings.Contains(stderr.String(), "not verified") {
		t.Errorf("the failed verification is not reported:\n%s%s", stdout.String(), stderr.String())
	}
}

// capprofProcess runs the test binary as capprof (TestMain) with args and
// returns its stdout, stderr and exit code: the command's own output goes
// to capprof's stdout, which run() in this process cannot capture.
func capprofProcess(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	prereq.RequireRoot(t)
	var out, errOut bytes.Buffer
	cmd := exec.Command(os.Args[0], args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// statusLines returns the lines of a /proc/PID/status dump whose names are
// listed, as name -> value.
func statusLines(text string, names ...string) map[string]string {
	got := map[string]string{}
	for line := range strings.Lines(text) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && slices.Contains(names, name) {
			got[name] = strings.Join(strings.Fields(value), " ")
		}
	}
	return got
}

func TestRunGivesTheCommandExactlyTheCapabilities(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want map[string]string
	}{{
		// CHOWN (0) and NET_RAW (13): 0x2001 in every set, as uid 1000
		// with no supplementary groups.
		name: "non-root",
		args: []string{"--user", "1000:1001", "--caps", "NET_RAW,chown"},
		want: map[string]string{"Uid": "1000 1000 1000 1000", "Gid": "1001 1001 1001 1001", "Groups": "",
			"CapInh": "0000000000002001", "CapPrm": "0000000000002001", "CapEff": "0000000000002001",
			"CapBnd": "0000000000002001", "CapAmb": "0000000000002001"},
	}, {
		name: "root",
		args: []string{"--caps", "CHOWN"},
		want: map[string]string{"Uid": "0 0 0 0",
			"CapInh": "0000000000000001", "CapPrm": "0000000000000001", "CapEff": "0000000000000001",
			"CapBnd": "0000000000000001", "CapAmb": "0000000000000001"},
	}, {
		name: "non-root without capabilities",
		args: []string{"--user", "1000", "--caps", "none"},
		want: map[string]string{"Uid": "1000 1000 1000 1000", "Gid": "1000 1000 1000 1000", "Groups": "",
			"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000",
			"CapBnd": "0000000000000000", "CapAmb": "0000000000000000"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"run", "--format", "json"}, tc.args...), "--", "cat", "/proc/self/status")
			stdout, stderr, code := capprofProcess(t, args...)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, stderr)
			}
			names := make([]string, 0, len(tc.want))
			for n := range tc.want {
				names = append(names, n)
			}
			if got := statusLines(stdout, names...); !maps.Equal(got, tc.want) {
				t.Errorf("the command's credentials:\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

// The launcher switches the user and sets the capabilities before it enters
// the recorded cgroup: none of its own checks (SETPCAP for the bounding
// set, SETGID, SETUID) may be in the profile.
func TestRunRecordsNothingOfTheLauncher(t *testing.T) {
	out := capprofRun(t, "--format", "json", "--user", "1000", "--", "true")
	profiles, err := profile.ReadJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(profiles) != 1 {
		t.Fatalf("want one profile, got %d:\n%s", len(profiles), out)
	}
	for _, c := range profiles[0].Capabilities {
		if c.Verdict != profile.VerdictIgnored {
			t.Errorf("%s (%s) recorded for true:\n%s", c.Name, c.Verdict, out)
		}
	}
	if a := profiles[0].Advice; len(a.Add) != 0 || len(a.Denied) != 0 {
		t.Errorf("advice %+v, want nothing added or denied", a)
	}
}

func TestRunReportsALaunchFailure(t *testing.T) {
	prereq.RequireRoot(t)
	// A directory only root can enter: uid 1000 cannot exec what is in it.
	dir := t.TempDir()
	script := filepath.Join(dir, "script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--user", "1000", "--caps", "none", "--", script}, &stdout, &stderr)
	if code != exitFailure || !strings.Contains(stderr.String(), "capprof run: launch "+script+": exec "+script+": permission denied") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr.String())
	}
	code = run([]string{"run", "--", filepath.Join(dir, "missing")}, &stdout, &stderr)
	if code != exitFailure || !strings.Contains(stderr.String(), "no such file or directory") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr.String())
	}
}

// Ctrl-C stops the command and the profile is still printed: capprof
// passes the first SIGINT on to the command and kills it on the second. An
// interrupted recording cannot be verified.
func TestRunPrintsTheProfileOnInterrupt(t *testing.T) {
	prereq.RequireRoot(t)
	for _, tc := range []struct {
		name       string
		flags      []string
		ignore     bool // the command ignores SIGINT
		interrupts int
		status     string
		code       int
	}{
		{name: "passed on", interrupts: 1, status: "signal: interrupt"},
		{name: "ignored, then killed", ignore: true, interrupts: 2, status: "signal: killed"},
		{name: "verify", flags: []string{"--verify"}, interrupts: 1, status: "signal: interrupt", code: exitFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			owned := filepath.Join(t.TempDir(), "owned")
			if err := os.WriteFile(owned, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(owned, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			script := `chown 0 "$0" && exec sleep 600`
			if tc.ignore {
				script = "trap '' INT; " + script
			}
			var stdout bytes.Buffer
			args := append(append([]string{"run"}, tc.flags...), "--", "sh", "-c", script, owned)
			cmd := exec.Command(os.Args[0], args...)
			cmd.Stdout = &stdout
			errPipe, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			waitForChild(t, cmd.Process.Pid, "sleep")
			// Signals of one kind do not queue: each is sent after
			// capprof said it handled the one before.
			var stderr strings.Builder
			lines := bufio.NewScanner(errPipe)
			for range tc.interrupts {
				if err := cmd.Process.Signal(os.Interrupt); err != nil {
					t.Fatal(err)
				}
				for lines.Scan() && !strings.HasPrefix(lines.Text(), "capprof run: passed interrupt on") {
					stderr.WriteString(lines.Text() + "\n")
				}
				stderr.WriteString(lines.Text() + "\n")
			}
			for lines.Scan() {
				stderr.WriteString(lines.Text() + "\n")
			}
			var exit *exec.ExitError
			if err := cmd.Wait(); err != nil && !errors.As(err, &exit) {
				t.Fatal(err)
			}
			if code := cmd.ProcessState.ExitCode(); code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), "capprof run: sh as 0:0: "+tc.status+"\n") {
				t.Errorf("the command was not stopped with %s:\n%s", tc.status, stderr.String())
			}
			if !strings.Contains(stdout.String(), "drop ALL; add CHOWN") {
				t.Errorf("no profile after the interrupt:\n%s", stdout.String())
			}
			if tc.code != 0 && !strings.Contains(stderr.String(), "not verified: the recorded run was interrupted") {
				t.Errorf("the verification does not say why it failed:\n%s", stderr.String())
			}
		})
	}
}

// waitForChild waits until parent's child process runs comm. Each thread
// lists the children it forked, so all are read.
func waitForChild(t *testing.T, parent int, comm string) {
	t.Helper()
	for range 500 {
		lists, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", parent))
		var children []byte
		for _, l := range lists {
			b, _ := os.ReadFile(l)
			children = append(children, b...)
		}
		for _, pid := range strings.Fields(string(children)) {
			if c, _ := os.ReadFile("/proc/" + pid + "/comm"); strings.TrimSpace(string(c)) == comm {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no child %s of %d", comm, parent)
}
