package testenv

import (
	"os/exec"
	"path"
	"path/filepath"
	"testing"

	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/prereq"
)

// Cgroup is a cgroup v2 directory a test owns; it is removed at cleanup.
type Cgroup struct {
	*cgroup.Dir
}

// NewCgroup creates a fresh cgroup below the cgroup2 mount.
func NewCgroup(t testing.TB) *Cgroup {
	t.Helper()
	prereq.RequireRoot(t)
	r, err := cgroup.NewResolver(cgroup.Options{})
	if err != nil {
		prereq.Missing(t, "a cgroup2 mount: %v", err)
	}
	d, err := r.Create("capprof-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Remove() })
	return &Cgroup{Dir: d}
}

// Child names a cgroup below c without creating it, for a filter directory
// that appears while recording: the test makes it with os.Mkdir. Whatever
// exists of it is removed at cleanup, before c.
func (c *Cgroup) Child(t testing.TB, name string) *Cgroup {
	t.Helper()
	d := &cgroup.Dir{Path: filepath.Join(c.Path, name), Rel: path.Join(c.Rel, name)}
	t.Cleanup(func() { _ = d.Remove() })
	return &Cgroup{Dir: d}
}

// Command returns a command that moves itself into the cgroup and then
// execs name with args, so that everything it starts is inside.
func (c *Cgroup) Command(name string, args ...string) *exec.Cmd {
	script := `echo $$ > "$0/cgroup.procs" && exec "$@"`
	return exec.Command("sh", append([]string{"-c", script, c.Path, name}, args...)...)
}
