package main

import (
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary stand in for capprof: run re-executes
// os.Executable, the test binary, as the launcher, and the integration tests
// run it as `capprof run` to send it signals. Arguments that are not the
// test flags make it capprof.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-test.") {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
