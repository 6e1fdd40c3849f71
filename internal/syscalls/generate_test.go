package syscalls

import (
	"bytes"
	"github.com/capprof/capprof/internal/prereq"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedFilesCurrent regenerates the tables into a temporary
// directory and compares them with the committed files, so that a hand edit
// or a generator change without `go generate` fails here.
func TestGeneratedFilesCurrent(t *testing.T) {
	// The generator's default inputs (gen/main.go); elsewhere, for example on
	// an arm64 build machine, the x86_64 header lives under another path.
	for _, header := range []string{
		"/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
		"/usr/include/asm-generic/unistd.h",
	} {
		if _, err := os.Stat(header); os.IsNotExist(err) {
			prereq.Missing(t, "%s (Debian package linux-libc-dev), to regenerate the tables", header)
		}
	}
	// go test puts $GOROOT/bin first on PATH, so this finds the running toolchain.
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("find go command: %v", err)
	}

	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), goBin, "run", "gen/main.go", "-out", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run gen/main.go: %v\n%s", err, out)
	}

	for _, file := range []string{"ztable_x8664.go", "ztable_aarch64.go"} {
		want, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatalf("generator did not write %s: %v", file, err)
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale or edited by hand; run go generate ./internal/syscalls", file)
		}
	}
}
