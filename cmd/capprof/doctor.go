package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/capprof/capprof/internal/tracer"
)

var errCannotRecord = errors.New("recording cannot work on this machine")

func runDoctor(args []string, stdout, stderr io.Writer) error {
	if err := parseFlags(flag.NewFlagSet("doctor", flag.ContinueOnError), args, stderr); err != nil {
		return err
	}
	for _, f := range tracer.Environment() {
		printFinding(stdout, f)
	}
	if err := tracer.CheckFloor(); err != nil {
		fmt.Fprintf(stdout, "\nrecord cannot work on this kernel: %v\n", err)
		return errCannotRecord
	}
	if _, err := tracer.CheckPrivileges(); err != nil {
		fmt.Fprintf(stdout, "\nrecord cannot attach: %v\n", err)
		return errCannotRecord
	}
	chosen := tracer.Method("")
	for _, m := range tracer.Methods {
		err := tracer.ProbeMethod(m)
		printFinding(stdout, tracer.Finding{Name: "attach " + string(m), OK: err == nil, Detail: detail(err)})
		if err == nil && chosen == "" {
			chosen = m
		}
	}
	if chosen == "" {
		fmt.Fprintln(stdout, "\nrecord cannot attach: no attach method works on this kernel")
		return errCannotRecord
	}
	fmt.Fprintf(stdout, "\nrecord would use: %s\n", chosen)
	return nil
}

func printFinding(w io.Writer, f tracer.Finding) {
	mark := "ok  "
	if !f.OK {
		mark = "no  "
	}
	fmt.Fprintf(w, "%-24s %s%s\n", f.Name, mark, f.Detail)
}

func detail(err error) string {
	if err != nil {
		return err.Error()
	}
	return "loads and attaches"
}
