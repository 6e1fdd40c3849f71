package testenv

import (
	"fmt"
	"github.com/capprof/capprof/internal/prereq"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/cgroup"
)

// Cgroup is a cgroup v2 directory a test owns; it is removed at cleanup.
type Cgroup struct {
	Path string // absolute directory
	Rel  string // relative to the cgroup2 mount
	ID   uint64
}

// NewCgroup creates a fresh cgroup below the cgroup2 mount.
func NewCgroup(t testing.TB) *Cgroup {
	t.Helper()
	prereq.RequireRoot(t)
	r, err := cgroup.NewResolver(cgroup.Options{})
	if err != nil {
		prereq.Missing(t, "a cgroup2 mount: %v", err)
	}
	rel := fmt.Sprintf("/capprof-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	path := filepath.Join(r.Root(), rel)
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatalf("create cgroup: %v", err)
	}
	t.Cleanup(func() { removeCgroup(path) })
	id, err := r.ID(rel)
	if err != nil {
		t.Fatalf("cgroup id: %v", err)
	}
	return &Cgroup{Path: path, Rel: rel, ID: id}
}

// Command returns a command that moves itself into the cgroup and then
// execs name with args, so that everything it starts is inside.
func (c *Cgroup) Command(name string, args ...string) *exec.Cmd {
	script := `echo $$ > "$0/cgroup.procs" && exec "$@"`
	return exec.Command("sh", append([]string{"-c", script, c.Path, name}, args...)...)
}

// removeCgroup kills what is left inside and removes the directory, retrying
// while the kernel finishes tearing the processes down.
func removeCgroup(path string) {
	for i := 0; i < 50; i++ {
		if data, err := os.ReadFile(filepath.Join(path, "cgroup.procs")); err == nil {
			for _, pid := range strings.Fields(string(data)) {
				_ = exec.Command("kill", "-9", pid).Run()
			}
		}
		if err := os.Remove(path); err == nil || os.IsNotExist(err) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
