package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
	"github.com/capprof/capprof/internal/profile"
)

// writeProfileRecords writes, as the gateway's file exporter does, one
// OTLP/JSON line per emission of writer: each emission is its cumulative
// profile after the checks so far.
func writeProfileRecords(t *testing.T, writer string, emissions ...[]check.Check) string {
	t.Helper()
	var buf bytes.Buffer
	b := profile.NewBuilder()
	for _, checks := range emissions {
		for _, c := range checks {
			b.Add(profile.Observation{Check: c})
		}
		logs := plog.NewLogs()
		for _, p := range b.Profiles() {
			js, err := profile.MarshalOne(&p)
			if err != nil {
				t.Fatal(err)
			}
			lr := logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
			lr.SetEventName(profile.EventProfile)
			lr.Attributes().PutStr(profile.AttrProfileJSON, js)
			lr.Attributes().PutStr(profile.AttrProfileWriter, writer)
		}
		line, err := new(plog.JSONMarshaler).MarshalLogs(logs)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(append(line, '\n'))
	}
	path := filepath.Join(t.TempDir(), writer+".jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestProfileMergesWritersPartialProfiles: two gateway replicas each held
// part of a workload's checks and emitted their partial profile several
// times; capprof profile counts every check once.
func TestProfileMergesWritersPartialProfiles(t *testing.T) {
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	bind := check.Check{Time: at, Cap: 10, Audit: check.Audited, PID: 10, HostName: "n1",
		Process: proc.Info{PID: 10, ExecutablePath: "/usr/sbin/nginx"}, UserNS: check.UserNamespace{IsHost: true}}
	gw0 := writeProfileRecords(t, "gw-0", []check.Check{bind, bind}, []check.Check{bind}, nil) // 3, emitted thrice
	gw1 := writeProfileRecords(t, "gw-1", []check.Check{bind}, []check.Check{bind})            // 2, emitted twice
	var stdout, stderr bytes.Buffer
	if code := run([]string{"profile", "--format", "json", gw0, gw1}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got []profile.Profile
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if len(got) != 1 || got[0].Checks != 5 {
		t.Fatalf("got %d profiles, checks %+v; want one profile of 5 checks (gw-0's 3 + gw-1's 2)", len(got), got)
	}
}
