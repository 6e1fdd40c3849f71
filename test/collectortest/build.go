package collectortest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// Repo is the repository root, found from this file's path.
func Repo() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// builds caches one build per package for the whole test binary: every test
// of a run uses the same otelcol-capprof.
var builds sync.Map // package path -> *build

type build struct {
	once sync.Once
	path string
	err  error
}

// Main runs a package's tests and then removes the binaries they built:
// call it from TestMain (os.Exit(collectortest.Main(m))).
func Main(m *testing.M) int {
	code := m.Run()
	builds.Range(func(_, v any) bool {
		if b := v.(*build); b.path != "" {
			_ = os.RemoveAll(filepath.Dir(b.path))
		}
		return true
	})
	return code
}

// Binary builds the main package pkg of the repository ("./cmd/capprof")
// once per test binary and returns its path; Main removes it.
func Binary(t testing.TB, pkg string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg, &build{})
	b := v.(*build)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "capprof-e2e-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-o", b.path, pkg)
		cmd.Dir = Repo()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("build %s: %w\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// OtelcolCapprof is the Collector distribution's binary.
func OtelcolCapprof(t testing.TB) string { return Binary(t, "./cmd/otelcol-capprof") }
