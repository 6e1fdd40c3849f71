package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/capprof/capprof/internal/tracer"
	"github.com/capprof/capprof/test/benchbase"
)

// With -base REV the recorder configurations of this tree and of the base
// revision are measured side by side, in the same rounds: each by a child
// process (-hold) that attaches one configuration and holds it while the
// worker runs, this binary for this tree and the base's build for the base.

// buildBase builds the benchmark against the base revision's tree: this
// tree's harness (test/benchkernel and test/benchbase, read from the
// working directory, the repository's root) replaces the base's, so both
// trees are measured the same way and only what is measured differs.
func buildBase(rev, tmp string) (string, error) {
	dir := filepath.Join(tmp, "base")
	if err := benchbase.Checkout(rev, dir); err != nil {
		return "", err
	}
	for _, pkg := range []string{"test/benchkernel", "test/benchbase"} {
		files, err := filepath.Glob(filepath.Join(pkg, "*.go"))
		if err != nil || len(files) == 0 {
			return "", fmt.Errorf("no %s to build the base with: run from the repository's root", pkg)
		}
		dst := filepath.Join(dir, pkg)
		if err := os.RemoveAll(dst); err != nil {
			return "", err
		}
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return "", err
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				return "", err
			}
			if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), data, 0o644); err != nil {
				return "", err
			}
		}
	}
	bin := filepath.Join(tmp, "benchkernel-base")
	if err := benchbase.Run(dir, "go", "build", "-o", bin, "./test/benchkernel"); err != nil {
		return "", fmt.Errorf("build the base's benchkernel: %w", err)
	}
	return bin, nil
}

// hold attaches the recorder configuration name, says "ready", and holds
// it until its stdin closes; then it prints the events lost.
func hold(m tracer.Method, name string) error {
	for _, rc := range recorders {
		if rc.name != name {
			continue
		}
		r, err := startRecording(recorderConfig(m, rc.mode, rc.audit))
		if err != nil {
			return err
		}
		fmt.Println("ready")
		_, cerr := io.Copy(io.Discard, os.Stdin)
		st, err := r.stop()
		if err := errors.Join(cerr, err); err != nil {
			return err
		}
		fmt.Println(st.Lost)
		return nil
	}
	return fmt.Errorf("no recorder configuration %q", name)
}

// heldRecorder is recorder configuration name, held by a child run of bin.
func heldRecorder(bin string, m tracer.Method, name string) func() (func() (uint64, error), error) {
	return func() (func() (uint64, error), error) {
		cmd := exec.Command(bin, "-hold", name, "-attach", string(m))
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		out := bufio.NewScanner(stdout)
		if !out.Scan() || out.Text() != "ready" {
			stdin.Close()
			return nil, fmt.Errorf("%s -hold %q: not ready: %w", bin, name, errors.Join(cmd.Wait(), out.Err()))
		}
		return func() (uint64, error) {
			stdin.Close()
			var lost uint64
			var perr error
			if out.Scan() {
				lost, perr = strconv.ParseUint(out.Text(), 10, 64)
			}
			return lost, errors.Join(perr, cmd.Wait())
		}, nil
	}
}
