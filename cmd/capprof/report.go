package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/capprof/capprof/internal/profile"
	"github.com/capprof/capprof/internal/report"
)

func runReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	out := fs.String("o", "", "write the page to `FILE` (- for standard output); required")
	keep := keyFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: capprof report [flags] -o report.html FILE...\n\n"+
			"Reads what capprof profile reads (OTLP/JSON lines of checks, gzip too; - is standard\n"+
			"input), and the JSON of capprof run --format json, whose --verify result it shows, and\n"+
			"writes one self-contained HTML page: a heat map of workloads x capabilities, each\n"+
			"workload's advice, the denied attempts, a timeline and what the recording cannot tell.\n"+
			"The page needs no network to be read (docs/report.md).\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlagsAndOperands(fs, args, stderr); err != nil {
		return err
	}
	if *out == "" {
		return usageError{errors.New("-o: name the page to write (- for standard output)")}
	}
	if fs.NArg() == 0 {
		return usageError{errors.New("name at least one file (- for standard input)")}
	}
	rep := report.New(keep)
	var partials profile.Partials
	malformed, err := readInputs("report", fs.Args(), rep.Add, rep.AddProfiles, &partials, stderr)
	if err != nil {
		return err
	}
	rep.AddProfiles(partials.Merged())
	meta := report.Meta{Inputs: baseNames(fs.Args()), Malformed: malformed, Generated: time.Now()}
	if err := writeReport(rep, meta, *out, stdout); err != nil {
		return err
	}
	if malformed > 0 {
		return errMalformed
	}
	return nil
}

// writeReport writes the page to the file named out, or to stdout for "-".
func writeReport(rep *report.Report, meta report.Meta, out string, stdout io.Writer) error {
	if out == "-" {
		return rep.Write(stdout, meta)
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("create page: %w", err)
	}
	if err := rep.Write(f, meta); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close page: %w", err)
	}
	return nil
}

// baseNames names the inputs on the page without the directories they
// were read from, which mean nothing to its reader.
func baseNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Base(n)
	}
	return out
}
