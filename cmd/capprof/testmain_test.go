package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary stand in for capprof when verification
// re-executes itself as the launcher (os.Executable is the test binary).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == launchCommand {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
