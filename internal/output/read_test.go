package output

import (
	"bytes"
	"compress/gzip"
	"reflect"
	"strings"
	"testing"

	"github.com/capprof/capprof/internal/check"
)

// TestReadOTLPJSONReadsWhatTheWriterWrote writes the fixture checks as
// OTLP/JSON, damages a line, and reads them back, plain and gzipped.
func TestReadOTLPJSONReadsWhatTheWriterWrote(t *testing.T) {
	checks := fixture()
	var buf bytes.Buffer
	w, err := New(FormatOTLPJSON, &buf)
	if err != nil {
		t.Fatal(err)
	}
	for i := range checks {
		if err := w.Write(checks[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.SplitAfter(buf.String(), "\n")
	input := lines[0] + "{not json\n" + "\n" + strings.Join(lines[1:], "")

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
			bad, err := ReadOTLPJSON(bytes.NewReader(tc.data), func(r Record) {
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
				want := checks[i]
				if want.Count == 0 {
					want.Count = 1
				}
				if !reflect.DeepEqual(got[i].Attributes(), want.Attributes()) || !reflect.DeepEqual(got[i].Resource(), want.Resource()) {
					t.Errorf("record %d read back as\n%+v\nwant\n%+v", i, got[i].Attributes(), want.Attributes())
				}
				if !got[i].Time.Equal(want.Time) {
					t.Errorf("record %d time %s, want %s", i, got[i].Time, want.Time)
				}
			}
		})
	}
}
