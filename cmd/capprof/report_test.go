package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/capprof/capprof/checklogs"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
	"github.com/capprof/capprof/internal/profile"
)

func TestReportWritesThePageAndReportsMalformedLines(t *testing.T) {
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	web := proc.Info{PID: 10, ExecutablePath: "/usr/sbin/nginx"}
	path := writeRecording(t, []check.Check{
		{Time: at, Cap: 10, Audit: check.Audited, PID: 10, Process: web, HostName: "n1", UserNS: check.UserNamespace{IsHost: true}},
		{Time: at, Cap: 21, Denied: true, Audit: check.Audited, PID: 10, Process: web, HostName: "n1", UserNS: check.UserNamespace{IsHost: true}},
	})
	out := filepath.Join(t.TempDir(), "report.html")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"report", "-o", out, path}, &stdout, &stderr); code != exitFailure {
		t.Errorf("exit %d with a malformed line, want %d", code, exitFailure)
	}
	if !strings.Contains(stderr.String(), path+":2: not an OTLP/JSON line") {
		t.Errorf("the malformed line is not reported with its number:\n%s", stderr.String())
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("no page written: %v", err)
	}
	for _, want := range []string{`"id":"host n1 /usr/sbin/nginx"`, `"malformed":1`, `"inputs":["checks.jsonl"]`} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("the page's data lacks %s", want)
		}
	}
}

// TestReportReadsGzipAndRunJSON: the checks gzipped, and the JSON of
// `capprof run --verify --format json`, whose verification the page shows.
func TestReportReadsGzipAndRunJSON(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	var plain bytes.Buffer
	err := checklogs.NewJSONWriter(&plain, "").Write([]check.Check{
		{Time: at, Cap: 12, Audit: check.Audited, PID: 7, Process: proc.Info{PID: 7, ExecutablePath: "/usr/sbin/ip"}, HostName: "n2", UserNS: check.UserNamespace{IsHost: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain.Bytes())
	zw.Close()
	gzPath := filepath.Join(dir, "checks.jsonl.gz")
	if err := os.WriteFile(gzPath, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	b := profile.NewBuilder(profile.WithCommand("/srv/server --port 80"))
	b.Add(profile.Observation{Check: check.Check{Time: at, Cap: 10, Audit: check.Audited, UserNS: check.UserNamespace{IsHost: true}}})
	ps := b.Profiles()
	ps[0].Verification = &profile.Verification{User: "1000:1000", Recorded: "exit status 0", Advised: "exit status 0", Verified: true, Differences: []string{}, Without: []profile.WithoutRun{}}
	var js bytes.Buffer
	if err := profile.Write(&js, profile.FormatJSON, ps); err != nil {
		t.Fatal(err)
	}
	jsonPath := filepath.Join(dir, "run.json")
	if err := os.WriteFile(jsonPath, js.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	if code := run([]string{"report", "-o", "-", gzPath, jsonPath}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
	for _, want := range []string{`"id":"host n2 /usr/sbin/ip"`, `"id":"command /srv/server --port 80"`, `"verified":true`} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the page's data lacks %s", want)
		}
	}
}

func TestReportUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"report", "f"}, {"report", "-o", "x.html"}, {"report", "--bogus", "-o", "x.html", "f"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
	broken := filepath.Join(t.TempDir(), "broken.json")
	if err := os.WriteFile(broken, []byte("[{\"id\": "), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"/nonexistent/checks.jsonl", broken} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"report", "-o", "-", in}, &stdout, &stderr); code != exitFailure {
			t.Errorf("%s: exit %d, want %d", in, code, exitFailure)
		}
	}
}
