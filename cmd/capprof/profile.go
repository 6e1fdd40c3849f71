package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/output"
	"github.com/capprof/capprof/internal/profile"
)

// errMalformed reports that some input lines were skipped.
var errMalformed = errors.New("some input lines were malformed and skipped (see above); the profiles cover the rest")

func runProfile(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("profile", flag.ContinueOnError)
	format := formatFlag(fs)
	namespace := fs.String("namespace", "", "only profiles of this Kubernetes `NAMESPACE`")
	workload := fs.String("workload", "", "only profiles of this `WORKLOAD` (Deployment, DaemonSet, ... name)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: capprof profile [flags] FILE...\n\n"+
			"Reads recorded checks as OTLP/JSON lines (the Collector's file exporter, capprof record\n"+
			"--format otlp-json; gzip too; - is standard input) and prints each workload's capability\n"+
			"profile and least-privilege advice.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlagsAndOperands(fs, args, stderr); err != nil {
		return err
	}
	f, err := format()
	if err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{errors.New("name at least one file (- for standard input)")}
	}

	b := profile.NewBuilder()
	malformed := false
	for _, name := range fs.Args() {
		bad, err := readChecks(name, b.Add)
		for _, e := range bad {
			fmt.Fprintf(stderr, "capprof profile: %s:%d: not an OTLP/JSON line: %v\n", name, e.Line, e.Err)
			malformed = true
		}
		if err != nil {
			return err
		}
	}
	var profiles []profile.Profile
	for _, p := range b.Profiles() {
		if (*namespace == "" || p.Key.Namespace == *namespace) && (*workload == "" || p.Key.Workload == *workload) {
			profiles = append(profiles, p)
		}
	}
	if err := profile.Write(stdout, f, profiles); err != nil {
		return err
	}
	if malformed {
		return errMalformed
	}
	return nil
}

// formatFlag defines --format for the commands that print profiles; the
// function it returns parses the value once the flags are parsed.
func formatFlag(fs *flag.FlagSet) func() (profile.Format, error) {
	name := fs.String("format", "table", "output format: "+strings.Join(profile.Formats(), ", "))
	return func() (profile.Format, error) {
		f, err := profile.ParseFormat(*name)
		if err != nil {
			return "", usageError{fmt.Errorf("--format: %w", err)}
		}
		return f, nil
	}
}

// readChecks feeds every capability-check record of an OTLP/JSON file to add.
func readChecks(name string, add func(profile.Observation)) ([]output.LineError, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("open input: %w", err)
		}
		defer f.Close()
		r = f
	}
	bad, err := output.ReadOTLPJSON(r, func(rec output.Record) {
		if rec.EventName != "" && rec.EventName != check.EventName {
			return // other events in a shared file
		}
		add(profile.NewResource(rec.Resource).Observation(rec.Attributes, rec.Time))
	})
	if err != nil {
		return bad, fmt.Errorf("%s: %w", name, err)
	}
	return bad, nil
}
