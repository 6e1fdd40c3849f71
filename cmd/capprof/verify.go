package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/capprof/capprof/internal/caps"
)

// launchCommand is the hidden command verification re-executes capprof as:
// `capprof __launch CAPS -- CMD ARGS...` limits the capability bounding set
// to CAPS and execs CMD.
const launchCommand = "__launch"

// verdict is the outcome of one verification run.
type verdict struct {
	without string // the capability left out, "" for the advised set itself
	status  string
	same    bool // exited as the recorded run did
}

// verifyAdvice re-runs command with exactly the advised capabilities, then once
// without each of them, and reports to w. It says whether the advised set
// reproduced the recorded run's exit.
func verifyAdvice(w io.Writer, command []string, add []string, want string) (bool, error) {
	set, err := caps.ParseSet(strings.Join(add, ","))
	if err != nil {
		return false, fmt.Errorf("verify: advised capabilities: %w", err)
	}
	runs := []caps.Set{set}
	for _, id := range set.IDs() {
		runs = append(runs, set&^caps.Set(0).With(id))
	}
	var results []verdict
	for i, s := range runs {
		status, err := launch(s, command)
		if err != nil {
			return false, err
		}
		v := verdict{status: status, same: status == want}
		if i > 0 {
			v.without = caps.KubernetesName(set.IDs()[i-1])
		}
		results = append(results, v)
	}
	fmt.Fprintf(w, "\nverification (the recorded run: %s)\n", want)
	advised := "none"
	if len(add) > 0 {
		advised = strings.Join(add, ", ")
	}
	ok := results[0].same
	if ok {
		fmt.Fprintf(w, "  verified      with exactly [%s]: %s, as recorded\n", advised, results[0].status)
	} else {
		fmt.Fprintf(w, "  NOT verified  with exactly [%s]: %s\n", advised, results[0].status)
	}
	for _, r := range results[1:] {
		if r.same {
			fmt.Fprintf(w, "  %-16s not proven necessary: without it, %s as well\n", r.without, r.status)
		} else {
			fmt.Fprintf(w, "  %-16s proven necessary: without it, %s\n", r.without, r.status)
		}
	}
	return ok, nil
}

// launch runs capprof's launcher on command with bounding set s and returns
// how the command exited.
func launch(s caps.Set, command []string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("verify: %w", err)
	}
	names := make([]string, 0, len(s.IDs()))
	for _, id := range s.IDs() {
		names = append(names, caps.Name(id))
	}
	cmd := exec.Command(self, append([]string{launchCommand, strings.Join(names, ","), "--"}, command...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, io.Discard, io.Discard
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return "", fmt.Errorf("verify: run %s: %w", command[0], err)
	}
	return cmd.ProcessState.String(), nil
}

// runLaunch is the launcher: it drops every capability not listed from the
// bounding set, clears the inheritable and ambient sets, and execs the
// command. For uid 0 the kernel then gives the command exactly the listed
// capabilities as its permitted and effective sets (execve's root rule:
// P' = bounding set). Only the calling thread's credentials matter to
// execve, so it is locked to one OS thread.
func runLaunch(args []string, _, _ io.Writer) error {
	i := slices.Index(args, "--")
	if i != 1 || len(args) < 3 {
		return usageError{errors.New("usage: capprof __launch CAPS -- CMD ARGS...")}
	}
	keep, err := caps.ParseSet(args[0])
	if err != nil {
		return usageError{err}
	}
	command := args[2:]
	path, err := exec.LookPath(command[0])
	if err != nil {
		return err
	}
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	for id := 0; id <= caps.Last; id++ {
		if keep.Has(id) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(id), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("drop %s from the bounding set: %w", caps.Name(id), err)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("clear inheritable capabilities: %w", err)
	}
	return syscall.Exec(path, command, os.Environ())
}
