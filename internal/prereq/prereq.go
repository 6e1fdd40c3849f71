package prereq

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether CI=true is set.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test, or fails it in CI, because what is unavailable.
func Missing(t testing.TB, what string, args ...any) {
	t.Helper()
	msg := "missing prerequisite: " + fmt.Sprintf(what, args...)
	if InCI() {
		t.Fatal(msg + " (CI=true: failing instead of skipping)")
	}
	t.Skip(msg)
}

// RequireRoot needs euid 0 (BPF, cgroups, containerd).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "root (run the integration tests with sudo)")
	}
}

// RequireCommands needs the named programs on PATH.
func RequireCommands(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			Missing(t, "command %s (see .ci/run for the packages)", n)
		}
	}
}
