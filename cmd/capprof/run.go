package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/profile"
	"github.com/capprof/capprof/internal/tracer"
)

func runRun(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	format := formatFlag(fs)
	verifyFlag := fs.Bool("verify", false, "re-run the command with exactly the advised capabilities, then without each, and report; exit 1 unless it exits as recorded")
	verbose := fs.Bool("v", false, "log debug messages")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: capprof run [flags] -- CMD ARGS...\n\n"+
			"Runs the command in a cgroup of its own, records exactly its process tree's capability\n"+
			"checks, and prints its profile and least-privilege advice when it exits (or on Ctrl-C,\n"+
			"after stopping it).\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlagsAndOperands(fs, args, stderr); err != nil {
		return err
	}
	f, err := format()
	if err != nil {
		return err
	}
	command := fs.Args()
	if len(command) == 0 {
		return usageError{errors.New("name the command to run after --")}
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if _, err := tracer.CheckPrivileges(); err != nil {
		return err
	}

	resolver, err := cgroup.NewResolver(cgroup.Options{})
	if err != nil {
		return fmt.Errorf("cgroup: %w", err)
	}
	cg, err := resolver.Create("capprof-run")
	if err != nil {
		return err
	}
	defer cg.Remove() // kills what the command left running

	cfg := controller.DefaultConfig()
	cfg.CgroupInclude = []string{cg.Rel}
	cfg.MaxBatchDelay = 200 * time.Millisecond
	cfg.Logger = log
	ctl, err := controller.New(cfg)
	if err != nil {
		return err
	}
	defer ctl.Close()
	sink := &profileSink{b: profile.NewBuilder(profile.WithCommand(strings.Join(command, " ")))}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctl.Run(ctx, sink) }()

	status, runErr := runInCgroup(command, cg)
	stop()
	if err := errors.Join(runErr, <-done); err != nil {
		return err
	}
	if s := ctl.Stats(); s.LostChecks > 0 {
		fmt.Fprintf(stderr, "capprof run: %d checks were lost in the kernel (ring buffer full): the profile is incomplete\n", s.LostChecks)
	}
	fmt.Fprintf(stderr, "capprof run: %s %s\n", command[0], status)
	profiles := sink.b.Profiles()
	if err := profile.Write(stdout, f, profiles); err != nil {
		return err
	}
	if !*verifyFlag {
		return nil
	}
	if os.Geteuid() != 0 {
		return errors.New("--verify runs the command as root with a limited bounding set: run capprof as root")
	}
	var add []string
	if len(profiles) == 1 {
		add = profiles[0].Advice.Add
	}
	ok, err := verifyAdvice(stdout, command, add, status)
	if err != nil {
		return err
	}
	if !ok {
		return errNotVerified
	}
	return nil
}

// errNotVerified makes `capprof run --verify` exit 1 when the advised set
// does not reproduce the recorded run.
var errNotVerified = errors.New("the advice is not verified: with exactly the advised capabilities the command exits differently")

// profileSink builds the profile of everything the recording writes.
type profileSink struct {
	mu sync.Mutex
	b  *profile.Builder
}

func (s *profileSink) Write(checks []check.Check) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range checks {
		s.b.Add(profile.Observation{Check: checks[i]})
	}
	return nil
}

// runInCgroup starts the command directly in the cgroup (clone3's
// CLONE_INTO_CGROUP, Linux 5.7+), so that even its first instructions are
// recorded, forwards SIGINT and SIGTERM to it, and waits.
func runInCgroup(command []string, cg *cgroup.Dir) (string, error) {
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.File.Fd())}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", command[0], err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	for {
		select {
		case sig := <-signals:
			_ = cmd.Process.Signal(sig)
		case err := <-waited:
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				return "", fmt.Errorf("wait for %s: %w", command[0], err)
			}
			return cmd.ProcessState.String(), nil
		}
	}
}
