package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/profile"
	"github.com/capprof/capprof/internal/tracer"
)

func runRun(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	format := formatFlag(fs)
	verifyFlag := fs.Bool("verify", false, "then re-run the command with exactly the advised capabilities, and once without each, as the same user; exit 1 unless it behaves as recorded")
	waitFlag := fs.String("wait", "all", "record until `WHAT` has exited: all (every process of the command's cgroup) or main (its first process; what it left running is killed)")
	timeoutFlag := fs.Duration("timeout", 0, "kill what is left of the command after `DURATION` (0: no limit); the profile says so")
	userFlag := fs.String("user", "", "run the command as `USER[:GROUP]` (names or numbers; no supplementary groups) instead of capprof's own user")
	capsFlag := fs.String("caps", "", "give the recorded run exactly these capabilities: `LIST` of names, all, or none (default: every capability capprof holds)")
	verbose := fs.Bool("v", false, "log debug messages")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: capprof run [flags] -- CMD ARGS...\n\n"+
			"Runs the command in a cgroup of its own, records exactly its process tree's capability\n"+
			"checks, and prints its profile and least-privilege advice when every process of the\n"+
			"cgroup has exited (--wait main: when the first has), at --timeout, or on Ctrl-C, after\n"+
			"stopping it: the first Ctrl-C is passed on to the command, a second kills it.\n\n"+
			"The command gets exactly the --caps capabilities (bounding, permitted, effective,\n"+
			"inheritable and ambient sets), as --user if given, so a non-root command holds them too.\n"+
			"Granting more than it needs can over-state the advice where the kernel tries one\n"+
			"capability before another (CAP_DAC_READ_SEARCH before CAP_DAC_OVERRIDE); --verify shows\n"+
			"which advised capabilities are proven necessary. A capability it tried without holding it\n"+
			"is reported as attempted and denied, never added. --verify's runs are made as the\n"+
			"same user, each in a fresh cgroup, their output discarded, waited for as the recorded\n"+
			"run was; a run behaves as recorded when its first process exits the same way, no\n"+
			"process exits differently and no check is denied whose capability the recorded run was\n"+
			"granted (docs/profiles.md).\n\n"+
			"Example: capprof run --user 1000 --caps NET_BIND_SERVICE --verify -- ./server --port 80\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlagsAndOperands(fs, args, stderr); err != nil {
		return err
	}
	f, err := format()
	if err != nil {
		return err
	}
	spec := launchSpec{command: fs.Args(), timeout: *timeoutFlag}
	if len(spec.command) == 0 {
		return usageError{errors.New("name the command to run after --")}
	}
	switch *waitFlag {
	case "all":
	case "main":
		spec.waitMain = true
	default:
		return usageError{fmt.Errorf("--wait: %q is neither all nor main", *waitFlag)}
	}
	if spec.timeout < 0 {
		return usageError{fmt.Errorf("--timeout: %s is negative", spec.timeout)}
	}
	if *userFlag != "" {
		if spec.user, err = parseUser(*userFlag); err != nil {
			return usageError{err}
		}
	}
	if spec.caps, err = parseCapsFlag(*capsFlag); err != nil {
		return err
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
	rec, err := record(resolver, spec, true, log, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "capprof run: %s as %s: %s\n", spec.command[0], spec.userText(), rec.status)
	profiles := rec.profiles
	for i := range profiles {
		profiles[i].Stopped = rec.stopped
	}
	var verifyErr error
	switch {
	case !*verifyFlag:
	case rec.interrupted:
		verifyErr = errors.New("not verified: the recorded run was interrupted")
	case len(profiles) == 0:
		verifyErr = errors.New("not verified: no capability checks were recorded, so there is no profile to verify")
	default:
		p := &profiles[0]
		p.Verification, verifyErr = verifyAdvice(resolver, spec, p.Advice.Add, rec, log, stderr)
		if verifyErr == nil && !p.Verification.Verified {
			verifyErr = errNotVerified
		}
	}
	if err := profile.Write(stdout, f, profiles); err != nil {
		return errors.Join(err, verifyErr)
	}
	return verifyErr
}

// parseCapsFlag parses --caps: a list, "all" or "none"; "" is every
// capability capprof holds. capprof must hold what it is to give.
func parseCapsFlag(s string) (caps.Set, error) {
	held, err := permittedCaps()
	if err != nil {
		return 0, err
	}
	var set caps.Set
	switch strings.TrimSpace(s) {
	case "":
		return held, nil
	case "none":
		return 0, nil
	default:
		if set, err = caps.ParseSet(s); err != nil {
			return 0, usageError{fmt.Errorf("--caps: %w", err)}
		}
	}
	if missing := set &^ held; missing != 0 {
		return 0, fmt.Errorf("--caps: capprof does not hold %s, so it cannot give them", strings.Join(missing.Names(), ", "))
	}
	return set, nil
}

// recording is one run of the command as record saw it.
type recording struct {
	launched
	profiles []profile.Profile
	run      *profile.Run // what verification compares
}

// record runs the command as spec says in a new cgroup, recording exactly
// that cgroup until the command is done (launched), and returns what it
// did. interactive gives the command capprof's stdin, stdout and stderr;
// else it runs without them (verification). notices is capprof's own
// stderr.
func record(resolver *cgroup.Resolver, spec launchSpec, interactive bool, log *slog.Logger, notices io.Writer) (*recording, error) {
	cg, err := resolver.Create("capprof-run")
	if err != nil {
		return nil, err
	}
	defer cg.Remove() // kills what the command left running

	cfg := controller.DefaultConfig()
	cfg.CgroupInclude = []string{cg.Rel}
	cfg.MaxBatchDelay = 200 * time.Millisecond
	cfg.Logger = log
	ctl, err := controller.New(cfg)
	if err != nil {
		return nil, err
	}
	defer ctl.Close()
	sink := &profileSink{b: profile.NewBuilder(profile.WithCommand(strings.Join(spec.command, " "))), run: profile.NewRun()}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctl.Run(ctx, sink) }()

	var stdin io.Reader
	var stdout, stderr io.Writer
	if interactive {
		stdin, stdout, stderr = os.Stdin, os.Stdout, os.Stderr
	}
	l, runErr := runLaunched(spec, cg, stdin, stdout, stderr, notices)
	stop()
	if err := errors.Join(runErr, <-done); err != nil {
		return nil, err
	}
	if lost := ctl.Stats().LostChecks; lost > 0 {
		fmt.Fprintf(notices, "capprof run: %d checks were lost in the kernel (ring buffer full): the recording is incomplete\n", lost)
	}
	if l.stopped != "" {
		fmt.Fprintf(notices, "capprof run: %s\n", l.stopped)
		sink.run.ForgetKilled()
	}
	return &recording{launched: l, profiles: sink.b.Profiles(), run: sink.run}, nil
}

// profileSink builds the profile and the Run of everything the recording
// writes.
type profileSink struct {
	mu  sync.Mutex
	b   *profile.Builder
	run *profile.Run
}

func (s *profileSink) Write(checks []check.Check) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range checks {
		s.b.Add(profile.Observation{Check: checks[i]})
		s.run.AddCheck(&checks[i])
	}
	return nil
}

func (s *profileSink) Exited(e controller.Exit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.run.AddExit(&e.Process, statusText(e.Status))
}
