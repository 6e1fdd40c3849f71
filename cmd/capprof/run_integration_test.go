//go:build integration

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capprof/capprof/internal/prereq"
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
	for _, want := range []string{"drop ALL; add CHOWN", "verified      with exactly [CHOWN]: exit status 0", "CHOWN            proven necessary: without it, exit status 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out = capprofRun(t, "--verify", "--format", "docker", "--", "sh", "-c", `seq 1 1000 | sort >/dev/null`)
	if !strings.Contains(out, "verified      with exactly [none]: exit status 0") {
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
