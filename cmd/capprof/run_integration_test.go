//go:build integration

package main

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
// passes the first SIGINT on to the command.
func TestRunPrintsTheProfileOnInterrupt(t *testing.T) {
	prereq.RequireRoot(t)
	owned := filepath.Join(t.TempDir(), "owned")
	if err := os.WriteFile(owned, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(owned, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(os.Args[0], "run", "--", "sh", "-c", `chown 0 "$0" && exec sleep 600`, owned)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitForChild(t, cmd.Process.Pid, "sleep")
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "capprof run: sh as 0:0: signal: interrupt") {
		t.Errorf("the command was not stopped by the interrupt:\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), "drop ALL; add CHOWN") {
		t.Errorf("no profile after the interrupt:\n%s", stdout.String())
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
