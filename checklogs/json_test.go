package checklogs_test

import (
	"bytes"
	"compress/gzip"
	"reflect"
	"strings"
	"testing"

	"github.com/capprof/capprof/checklogs"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/check/checktest"
	"github.com/capprof/capprof/internal/output"
)

// TestReadBackWhatTheWriterWrote writes checks as OTLP/JSON, a line each,
// damages a line, and reads them back with output.ReadOTLPJSON, plain and
// gzipped, into the same attribute lists.
func TestReadBackWhatTheWriterWrote(t *testing.T) {
	checks := checktest.Checks()
	var buf bytes.Buffer
	w := checklogs.NewJSONWriter(&buf, "")
	for i := range checks {
		if err := w.Write(checks[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.SplitAfter(buf.String(), "\n")
	input := lines[0] + "{not json\n" + "\n" + strings.Join(lines[1:], "")
	for _, want := range []string{`"severityNumber":13`, `"eventName":"linux.capability.check"`, `"intValue":"34"`, `"timeUnixNano":"1795867200000000000"`} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("OTLP/JSON (enums as numbers, 64-bit integers as strings) lacks %s: %s", want, lines[0])
		}
	}

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(input))
	zw.Close()

	for _, tc := range []struct {
		name string
		data []byte
	}{{"plain", []byte(input)}, {"gzip", gz.Bytes()}} {
		t.Run(tc.name, func(t *testing.T) {
			var got []check.Check
			bad, err := output.ReadOTLPJSON(bytes.NewReader(tc.data), func(r output.Record) {
				if r.EventName != check.EventName {
					t.Errorf("event name %q", r.EventName)
				}
				got = append(got, check.FromAttributes(r.Attributes, r.Resource, r.Time))
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(bad) != 1 || bad[0].Line != 2 {
				t.Errorf("malformed lines = %v, want line 2", bad)
			}
			if len(got) != len(checks) {
				t.Fatalf("read %d records, want %d", len(got), len(checks))
			}
			for i := range checks {
				if !reflect.DeepEqual(got[i].Attributes(), checks[i].Attributes()) || !reflect.DeepEqual(got[i].Resource(), checks[i].Resource()) {
					t.Errorf("record %d read back as\n%+v\nwant\n%+v", i, got[i].Attributes(), checks[i].Attributes())
				}
				if !got[i].Time.Equal(checks[i].Time) {
					t.Errorf("record %d time %s, want %s", i, got[i].Time, checks[i].Time)
				}
			}
		})
	}
}

func TestLinePerNonEmptyWrite(t *testing.T) {
	checks := checktest.Checks()
	var buf bytes.Buffer
	w := checklogs.NewJSONWriter(&buf, "")
	for _, b := range [][]check.Check{checks[:1], nil, checks[1:]} {
		if err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Fatalf("got %d lines, want one per non-empty Write: %s", n, buf.String())
	}
}
