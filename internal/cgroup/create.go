package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Dir is a cgroup capprof created for a workload of its own (capprof run,
// the integration tests). Remove it when done.
type Dir struct {
	File *os.File // open directory, for CLONE_INTO_CGROUP
	Path string   // absolute directory
	Rel  string   // relative to the cgroup2 mount, as Path returns ids
	ID   uint64
}

// Create makes a new cgroup named prefix plus a unique suffix directly
// below the cgroup2 mount.
func (r *Resolver) Create(prefix string) (*Dir, error) {
	rel := fmt.Sprintf("/%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano())
	abs := filepath.Join(r.root, rel)
	if err := os.Mkdir(abs, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup: %w", err)
	}
	d := &Dir{Path: abs, Rel: rel}
	var err error
	if d.File, err = os.Open(abs); err == nil {
		d.ID, err = r.ID(rel)
	}
	if err != nil {
		d.Remove()
		return nil, fmt.Errorf("open cgroup: %w", err)
	}
	return d, nil
}

// Remove kills what is left in the cgroup and removes it, retrying while
// the kernel finishes tearing the processes down.
func (d *Dir) Remove() error {
	if d.File != nil {
		d.File.Close()
	}
	var err error
	for range 100 {
		d.Kill()
		if err = os.Remove(d.Path); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup: %w", err)
}

// Kill sends SIGKILL to every process in the cgroup: through cgroup.kill
// (Linux 5.14+), else to each process listed.
func (d *Dir) Kill() {
	if os.WriteFile(filepath.Join(d.Path, "cgroup.kill"), []byte("1"), 0) == nil {
		return
	}
	d.Signal(syscall.SIGKILL)
}

// Signal sends sig to every process directly in the cgroup.
func (d *Dir) Signal(sig syscall.Signal) {
	for _, pid := range d.PIDs() {
		_ = syscall.Kill(pid, sig)
	}
}

// PIDs lists the processes directly in the cgroup (cgroup.procs); none
// when it cannot be read.
func (d *Dir) PIDs() []int {
	data, _ := os.ReadFile(filepath.Join(d.Path, "cgroup.procs"))
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
