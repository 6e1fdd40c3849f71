// Package benchbase builds a base revision's tree for the benchmarks that
// compare this tree with it side by side in one run (test/benchpipeline,
// test/benchkernel).
package benchbase

import (
	"fmt"
	"os"
	"os/exec"
)

// Checkout writes the tree of the git revision rev into dir.
func Checkout(rev, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	archive := exec.Command("git", "archive", "--format=tar", rev)
	extract := exec.Command("tar", "-x", "-C", dir)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return err
	}
	extract.Stdin = pipe
	archive.Stderr, extract.Stderr = os.Stderr, os.Stderr
	if err := extract.Start(); err != nil {
		return err
	}
	if err := archive.Run(); err != nil {
		return fmt.Errorf("git archive %s: %w", rev, err)
	}
	return extract.Wait()
}

// Run runs a command in dir, its output on stderr.
func Run(dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, os.Stderr, os.Stderr
	return cmd.Run()
}
