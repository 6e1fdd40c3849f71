package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/capprof/capprof/checklogs"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
)

// writeRecording writes checks as OTLP/JSON lines, one request a check, and
// inserts a broken line after the first.
func writeRecording(t *testing.T, checks []check.Check) string {
	t.Helper()
	var buf bytes.Buffer
	w := checklogs.NewJSONWriter(&buf, "")
	for i := range checks {
		if err := w.Write(checks[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.SplitAfter(buf.String(), "\n")
	data := lines[0] + `{"resourceLogs": [` + "\n" + strings.Join(lines[1:], "")
	path := filepath.Join(t.TempDir(), "checks.jsonl")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestProfileSkipsMalformedLinesAndProfilesTheRest(t *testing.T) {
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	web := proc.Info{PID: 10, ExecutablePath: "/usr/sbin/nginx"}
	checks := []check.Check{
		{Time: at, Cap: 10, Audit: check.Audited, PID: 10, Process: web, HostName: "n1", UserNS: check.UserNamespace{IsHost: true}},
		{Time: at, Cap: 10, Audit: check.Audited, PID: 10, Process: web, HostName: "n1", UserNS: check.UserNamespace{IsHost: true}},
		{Time: at, Cap: 21, Denied: true, Audit: check.NotAudited, PID: 10, Process: web, HostName: "n1", UserNS: check.UserNamespace{IsHost: true}},
		{Time: at, Cap: 21, Denied: true, Audit: check.Audited, PID: 10, Process: web, HostName: "n1", UserNS: check.UserNamespace{IsHost: true}},
	}
	path := writeRecording(t, checks)
	for _, tc := range []struct {
		format string
		want   []string
	}{
		{"table", []string{"host n1 /usr/sbin/nginx", "CAP_NET_BIND_SERVICE        2", "drop ALL; add NET_BIND_SERVICE", "restricted", "SYS_ADMIN"}},
		{"docker", []string{"skipped: a host process"}},
		{"systemd", []string{"CapabilityBoundingSet=CAP_NET_BIND_SERVICE"}},
	} {
		t.Run(tc.format, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{"profile", "--format", tc.format, path}, &stdout, &stderr)
			if code != exitFailure {
				t.Errorf("exit %d with a malformed line, want %d", code, exitFailure)
			}
			if !strings.Contains(stderr.String(), path+":2: not an OTLP/JSON line") {
				t.Errorf("the malformed line is not reported with its number:\n%s", stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
}

func TestProfileUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"profile"}, {"profile", "--format", "xml", "f"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"profile", "/nonexistent/checks.jsonl"}, &stdout, &stderr); code != exitFailure {
		t.Errorf("missing file: exit %d, want %d", code, exitFailure)
	}
}
