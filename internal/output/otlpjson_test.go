package output

import (
	"bytes"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/capprof/capprof/internal/check"
)

func writeOTLPJSON(t *testing.T, batches ...[]check.Check) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := New(FormatOTLPJSON, &buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestOTLPJSONGolden(t *testing.T) {
	golden(t, "checks.otlp.jsonl.golden", writeOTLPJSON(t, fixture()))
}

func TestOTLPJSONLinePerWrite(t *testing.T) {
	checks := fixture()
	out := writeOTLPJSON(t, checks[:1], nil, checks[1:])
	lines := bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want one per non-empty Write: %s", len(lines), out)
	}
}

func TestOTLPJSONRoundTrip(t *testing.T) {
	checks := fixture()
	out := writeOTLPJSON(t, checks)
	if bytes.Count(out, []byte("\n")) != 1 || out[len(out)-1] != '\n' {
		t.Fatalf("want exactly one line, got %q", out)
	}
	var data logspb.LogsData
	if err := protojson.Unmarshal(out, &data); err != nil {
		t.Fatalf("protojson cannot read the line back: %v", err)
	}

	// Host first, then the container with its two records.
	rls := data.GetResourceLogs()
	if len(rls) != 2 {
		t.Fatalf("got %d ResourceLogs, want 2 (host, container)", len(rls))
	}
	resources := []struct {
		name    string
		attrs   map[string]string
		records int
	}{
		{name: "host", attrs: map[string]string{"host.name": "node-1"}, records: 1},
		{name: "container", attrs: map[string]string{
			"host.name":              "node-1",
			"container.id":           testContainerID,
			"container.runtime.name": "containerd",
			"k8s.pod.uid":            testPodUID,
		}, records: 2},
	}
	for i, want := range resources {
		t.Run(want.name, func(t *testing.T) {
			rl := rls[i]
			got := map[string]string{}
			for _, kv := range rl.GetResource().GetAttributes() {
				got[kv.GetKey()] = kv.GetValue().GetStringValue()
			}
			if len(got) != len(want.attrs) {
				t.Errorf("resource attributes = %v, want %v", got, want.attrs)
			}
			for k, v := range want.attrs {
				if got[k] != v {
					t.Errorf("resource %s = %q, want %q", k, got[k], v)
				}
			}
			sls := rl.GetScopeLogs()
			if len(sls) != 1 || sls[0].GetScope().GetName() != "github.com/capprof/capprof" {
				t.Fatalf("want one ScopeLogs of github.com/capprof/capprof, got %v", sls)
			}
			if n := len(sls[0].GetLogRecords()); n != want.records {
				t.Errorf("got %d records, want %d", n, want.records)
			}
		})
	}

	denied := rls[0].GetScopeLogs()[0].GetLogRecords()[0]
	granted := rls[1].GetScopeLogs()[0].GetLogRecords()[0]
	records := []struct {
		name     string
		rec      *logspb.LogRecord
		c        check.Check
		severity logspb.SeverityNumber
		sevText  string
	}{
		{name: "denied", rec: denied, c: checks[0], severity: 13, sevText: "WARN"},
		{name: "granted", rec: granted, c: checks[1], severity: 9, sevText: "INFO"},
	}
	for _, tt := range records {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.rec
			if r.GetEventName() != check.EventName {
				t.Errorf("eventName = %q", r.GetEventName())
			}
			if r.GetSeverityNumber() != tt.severity || r.GetSeverityText() != tt.sevText {
				t.Errorf("severity = %d %q, want %d %q", r.GetSeverityNumber(), r.GetSeverityText(), tt.severity, tt.sevText)
			}
			wantTime := uint64(tt.c.Time.UnixNano())
			if r.GetTimeUnixNano() != wantTime || r.GetObservedTimeUnixNano() != wantTime {
				t.Errorf("times = %d, %d; want %d", r.GetTimeUnixNano(), r.GetObservedTimeUnixNano(), wantTime)
			}
			if r.GetBody().GetStringValue() != tt.c.Body() {
				t.Errorf("body = %v, want %q", r.GetBody(), tt.c.Body())
			}
			if len(r.GetAttributes()) != len(tt.c.Attributes()) {
				t.Errorf("got %d attributes, want %d", len(r.GetAttributes()), len(tt.c.Attributes()))
			}
		})
	}

	attrs := map[string]*commonpb.AnyValue{}
	for _, kv := range denied.GetAttributes() {
		attrs[kv.GetKey()] = kv.GetValue()
	}
	values := []struct {
		name  string
		key   string
		check func(v *commonpb.AnyValue) bool
	}{
		{name: "capability id is an int", key: check.AttrCapID, check: func(v *commonpb.AnyValue) bool {
			x, ok := v.GetValue().(*commonpb.AnyValue_IntValue)
			return ok && x.IntValue == 21
		}},
		{name: "capability name is a string", key: check.AttrCapName, check: func(v *commonpb.AnyValue) bool {
			x, ok := v.GetValue().(*commonpb.AnyValue_StringValue)
			return ok && x.StringValue == "CAP_SYS_ADMIN"
		}},
		{name: "effective set is an array of strings", key: check.AttrEffective, check: func(v *commonpb.AnyValue) bool {
			x, ok := v.GetValue().(*commonpb.AnyValue_ArrayValue)
			if !ok || len(x.ArrayValue.GetValues()) != 2 {
				return false
			}
			return x.ArrayValue.GetValues()[0].GetStringValue() == "CAP_NET_ADMIN" &&
				x.ArrayValue.GetValues()[1].GetStringValue() == "CAP_NET_RAW"
		}},
		{name: "audit is a bool", key: check.AttrAudit, check: func(v *commonpb.AnyValue) bool {
			x, ok := v.GetValue().(*commonpb.AnyValue_BoolValue)
			return ok && x.BoolValue
		}},
		{name: "foreign cred false is still present", key: check.AttrForeignCred, check: func(v *commonpb.AnyValue) bool {
			x, ok := v.GetValue().(*commonpb.AnyValue_BoolValue)
			return ok && !x.BoolValue
		}},
		{name: "namespace inode is an int", key: check.AttrNSInode, check: func(v *commonpb.AnyValue) bool {
			x, ok := v.GetValue().(*commonpb.AnyValue_IntValue)
			return ok && x.IntValue == 4026531837
		}},
	}
	for _, tt := range values {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := attrs[tt.key]
			if !ok {
				t.Fatalf("%s missing", tt.key)
			}
			if !tt.check(v) {
				t.Errorf("%s = %v", tt.key, v)
			}
		})
	}

	// The raw line must follow OTLP/JSON: enums as numbers, 64-bit integers
	// as strings, lowerCamelCase names.
	for _, want := range []string{`"severityNumber":13`, `"eventName":"linux.capability.check"`, `"intValue":"21"`, `"timeUnixNano":"1741944413589793000"`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("output lacks %s", want)
		}
	}
}
