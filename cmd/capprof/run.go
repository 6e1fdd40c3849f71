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
	verifyFlag := fs.Bool("verify", false, "then re-run the command with exactly the advised capabilities, and once without each, as the same user; exit 1 unless it exits as recorded")
	userFlag := fs.String("user", "", "run the command as `USER[:GROUP]` (names or numbers; no supplementary groups) instead of capprof's own user")
	capsFlag := fs.String("caps", "", "give the recorded run exactly these capabilities: `LIST` of names, all, or none (default: every capability capprof holds)")
	verbose := fs.Bool("v", false, "log debug messages")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: capprof run [flags] -- CMD ARGS...\n\n"+
			"Runs the command in a cgroup of its own, records exactly its process tree's capability\n"+
			"checks, and prints its profile and least-privilege advice when it exits (or on Ctrl-C,\n"+
			"after stopping it: the first Ctrl-C is passed on to the command, a second kills it).\n\n"+
			"The command gets exactly the --caps capabilities (bounding, permitted, effective,\n"+
			"inheritable and ambient sets), as --user if given, so a non-root command holds them too.\n"+
			"Granting more than it needs can over-state the advice where the kernel tries one\n"+
			"capability before another (CAP_DAC_READ_SEARCH before CAP_DAC_OVERRIDE); --verify shows\n"+
			"which advised capabilities are proven necessary. A capability it tried without holding it\n"+
			"is reported as attempted and denied, never added.\n\n"+
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
	spec := launchSpec{command: fs.Args()}
	if len(spec.command) == 0 {
		return usageError{errors.New("name the command to run after --")}
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
	status, interrupted, lost, profiles, err := record(resolver, spec, log)
	if err != nil {
		return err
	}
	if lost > 0 {
		fmt.Fprintf(stderr, "capprof run: %d checks were lost in the kernel (ring buffer full): the profile is incomplete\n", lost)
	}
	fmt.Fprintf(stderr, "capprof run: %s as %s: %s\n", spec.command[0], spec.userText(), status)
	var verifyErr error
	switch {
	case !*verifyFlag:
	case interrupted:
		verifyErr = errors.New("not verified: the recorded run was interrupted")
	case len(profiles) == 0:
		verifyErr = errors.New("not verified: no capability checks were recorded, so there is no profile to verify")
	default:
		p := &profiles[0]
		p.Verification, verifyErr = verifyAdvice(resolver, spec, p.Advice.Add, status, stderr)
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

// record runs the command as spec says in a new cgroup, recording exactly
// that cgroup, and returns how it exited, whether it was interrupted, the
// checks lost in the kernel and its profiles.
func record(resolver *cgroup.Resolver, spec launchSpec, log *slog.Logger) (status string, interrupted bool, lost uint64, profiles []profile.Profile, err error) {
	cg, err := resolver.Create("capprof-run")
	if err != nil {
		return "", false, 0, nil, err
	}
	defer cg.Remove() // kills what the command left running

	cfg := controller.DefaultConfig()
	cfg.CgroupInclude = []string{cg.Rel}
	cfg.MaxBatchDelay = 200 * time.Millisecond
	cfg.Logger = log
	ctl, err := controller.New(cfg)
	if err != nil {
		return "", false, 0, nil, err
	}
	defer ctl.Close()
	sink := &profileSink{b: profile.NewBuilder(profile.WithCommand(strings.Join(spec.command, " ")))}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctl.Run(ctx, sink) }()

	status, interrupted, runErr := runLaunched(spec, cg, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err := errors.Join(runErr, <-done); err != nil {
		return "", false, 0, nil, err
	}
	return status, interrupted, ctl.Stats().LostChecks, sink.b.Profiles(), nil
}

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
