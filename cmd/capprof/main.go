// Command capprof records Linux capability checks with eBPF and attributes
// each to its process, container and pod.
//
//	capprof record [flags]   print checks until interrupted
//	capprof run -- CMD ARGS  a command's capability profile and advice
//	capprof profile FILE...  profiles and least-privilege advice from recorded checks
//	capprof report -o F FILE...  the same as one self-contained HTML page
//	capprof apply [PROFILE]  the patches of CapabilityProfile objects, applied with --yes
//	capprof doctor           what this kernel supports
//	capprof version
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// Exit codes: 1 for a failure at run time, 2 for a usage error.
const (
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks errors caused by the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

var commands = []struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) error
}{
	{"record", "record capability checks until interrupted or --duration", runRecord},
	{"run", "run a command, record its process tree and print its profile and advice", runRun},
	{"profile", "print capability profiles and securityContext advice from recorded OTLP/JSON files", runProfile},
	{"report", "write the profiles of recorded OTLP/JSON files as one self-contained HTML page", runReport},
	{"apply", "print, or with --yes apply, the patches of CapabilityProfile objects to their workloads", runApply},
	{"doctor", "report what this kernel supports and which attach method record would use", runDoctor},
	{"version", "print the version", runVersion},
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return 0
	}
	if args[0] == launchCommand {
		return launchMain(args[1:], stderr)
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, new(usageError)):
			fmt.Fprintf(stderr, "capprof %s: %v\nRun 'capprof %s -h' for usage.\n", c.name, err, c.name)
			return exitUsage
		default:
			fmt.Fprintf(stderr, "capprof %s: %v\n", c.name, err)
			return exitFailure
		}
	}
	fmt.Fprintf(stderr, "capprof: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: capprof <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
}

// parseFlags parses args of a command that takes no operands, turning flag
// errors into usage errors and printing -h's usage to stderr.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	if err := parseFlagsAndOperands(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %q", fs.Args())}
	}
	return nil
}

// parseFlagsAndOperands is parseFlags for commands that take operands
// (files, a command line), left in fs.Args().
func parseFlagsAndOperands(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fs.Usage()
			return err
		}
		return usageError{err}
	}
	return nil
}
