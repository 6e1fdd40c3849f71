package main

import (
	"bufio"
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
	keep := keyFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: capprof profile [flags] FILE...\n\n"+
			"Reads recorded checks as OTLP/JSON lines (the Collector's file exporter, capprof record\n"+
			"--format otlp-json; gzip too; - is standard input) and prints each workload's capability\n"+
			"profile and least-privilege advice. Profile records of gateway replicas (the\n"+
			"capability_profile connector's) are merged: every writer's latest, added up.\n\nFlags:")
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
	var partials profile.Partials
	malformed, err := readInputs("profile", fs.Args(), b.Add, nil, &partials, stderr)
	if err != nil {
		return err
	}
	b.Restore(partials.Merged()...)
	var profiles []profile.Profile
	for _, p := range b.Profiles() {
		if keep(p.Key) {
			profiles = append(profiles, p)
		}
	}
	if err := profile.Write(stdout, f, profiles); err != nil {
		return err
	}
	if malformed > 0 {
		return errMalformed
	}
	return nil
}

// keyFlags defines --namespace and --workload, which select profiles by
// their key; the function it returns tells whether they select a key ("" matches all).
func keyFlags(fs *flag.FlagSet) func(profile.Key) bool {
	namespace := fs.String("namespace", "", "only profiles of this Kubernetes `NAMESPACE`")
	workload := fs.String("workload", "", "only profiles of this `WORKLOAD` (Deployment, DaemonSet, ... name)")
	return func(k profile.Key) bool {
		return (*namespace == "" || k.Namespace == *namespace) && (*workload == "" || k.Workload == *workload)
	}
}

// readInputs feeds the check records of the named files (- for standard
// input) to add and their profile records to partials, and reports each
// malformed line on stderr as cmd's, returning how many there were. With
// addProfiles, a file whose first non-blank byte is '[' is read as the JSON
// format of profiles (profile.ReadJSON) and given to it instead.
func readInputs(cmd string, names []string, add func(profile.Observation), addProfiles func([]profile.Profile), partials *profile.Partials, stderr io.Writer) (int, error) {
	malformed := 0
	for _, name := range names {
		bad, err := readInput(name, add, addProfiles, partials)
		for _, e := range bad {
			if e.Line == 0 { // a record, not a line
				fmt.Fprintf(stderr, "capprof %s: %s: %v\n", cmd, name, e.Err)
				continue
			}
			fmt.Fprintf(stderr, "capprof %s: %s:%d: not an OTLP/JSON line: %v\n", cmd, name, e.Line, e.Err)
		}
		malformed += len(bad)
		if err != nil {
			return malformed, err
		}
	}
	return malformed, nil
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

// readInput reads one input file of readInputs.
func readInput(name string, add func(profile.Observation), addProfiles func([]profile.Profile), partials *profile.Partials) ([]output.LineError, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("open input: %w", err)
		}
		defer f.Close()
		r = f
	}
	br := bufio.NewReader(r)
	if addProfiles != nil && firstNonBlank(br) == '[' {
		ps, err := profile.ReadJSON(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		addProfiles(ps)
		return nil, nil
	}
	var badProfiles []output.LineError
	bad, err := output.ReadOTLPJSON(br, func(rec output.Record) {
		switch rec.EventName {
		case "", check.EventName:
			add(profile.NewResource(rec.Resource).Observation(rec.Attributes, rec.Time))
		case profile.EventProfile:
			if err := addPartial(partials, rec.Attributes); err != nil {
				badProfiles = append(badProfiles, output.LineError{Err: err})
			}
		} // other events in a shared file are skipped
	})
	bad = append(bad, badProfiles...)
	if err != nil {
		return bad, fmt.Errorf("%s: %w", name, err)
	}
	return bad, nil
}

// addPartial gives a profile record's profile to partials as its writer's.
func addPartial(partials *profile.Partials, attrs map[string]any) error {
	js, _ := attrs[profile.AttrProfileJSON].(string)
	p, err := profile.UnmarshalOne(js)
	if err != nil {
		return fmt.Errorf("profile record: %w", err)
	}
	writer, _ := attrs[profile.AttrProfileWriter].(string)
	partials.Add(writer, p)
	return nil
}

// firstNonBlank returns the first byte of br that is not white space,
// without consuming it; 0 at the end of the input.
func firstNonBlank(br *bufio.Reader) byte {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0
		}
		if b != ' ' && b != '\t' && b != '\n' && b != '\r' {
			_ = br.UnreadByte()
			return b
		}
	}
}
