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
