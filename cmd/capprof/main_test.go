package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no command", nil, "Usage: capprof"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"bad mode", []string{"record", "--mode", "bogus"}, `flag -mode: "bogus" is not stream or unique`},
		{"bad verdict", []string{"record", "--verdict", "maybe"}, "flag -verdict"},
		{"bad audit", []string{"record", "--audit", "noaudit"}, `flag -audit: "noaudit" is not all or audited`},
		{"bad capability", []string{"record", "--caps", "CAP_BOGUS"}, "flag -caps"},
		{"empty capability list", []string{"record", "--caps", ","}, "flag -caps: the list names no capability"},
		{"bad format", []string{"record", "--format", "xml"}, "--format"},
		{"bad attach", []string{"record", "--attach", "uprobe"}, "flag -attach"},
		{"bad duration", []string{"record", "--duration", "soon"}, "invalid value"},
		{"negative flush interval", []string{"record", "--flush-interval", "-1s"}, "--flush-interval"},
		{"ring buffer not a power of two", []string{"record", "--ring-buffer-size", "5000"}, "--ring-buffer-size"},
		{"output and otlp together", []string{"record", "--output", "x", "--otlp-endpoint", "localhost:4317"}, "exclusive"},
		{"stray argument", []string{"record", "extra"}, "unexpected arguments"},
		{"bad kube labels", []string{"record", "--node-name", "n", "--kube-labels", "all,app"}, "--kube-labels"},
		{"zero kube max wait", []string{"record", "--kubeconfig", "k", "--kube-max-wait", "0s"}, "--kube-max-wait"},
		{"zero kube max pending", []string{"record", "--node-name", "n", "--kube-max-pending", "0"}, "--kube-max-pending"},
		{"doctor takes no flags", []string{"doctor", "--fast"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != exitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr does not mention %q:\n%s", tc.want, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("usage error wrote to stdout: %q", stdout.String())
			}
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"record", "-h"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Errorf("%q: exit %d, want 0", args, code)
		}
	}
}

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"version"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "capprof ") {
		t.Errorf("version output %q", stdout.String())
	}
}

func TestRunNeedsACommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	if code := run([]string{"run", "--format", "xml", "--", "true"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("bad format: exit %d, want %d", code, exitUsage)
	}
}
