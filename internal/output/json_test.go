package output

import (
	"bufio"
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func TestJSONGolden(t *testing.T) {
	var buf bytes.Buffer
	w, err := New(FormatJSON, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(fixture()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	golden(t, "checks.jsonl.golden", buf.Bytes())
}

// TestJSONValues decodes each line and checks it against the attribute list:
// every attribute is present once with a value of the right JSON type.
func TestJSONValues(t *testing.T) {
	checks := fixture()
	var buf bytes.Buffer
	w, err := New(FormatJSON, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(checks); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	for i := range checks {
		t.Run(checks[i].Body(), func(t *testing.T) {
			if !sc.Scan() {
				t.Fatalf("line %d missing", i)
			}
			var obj map[string]any
			dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
			dec.UseNumber()
			if err := dec.Decode(&obj); err != nil {
				t.Fatalf("line %d is not JSON: %v", i, err)
			}
			attrs := append(checks[i].Resource(), checks[i].Attributes()...)
			if len(obj) != len(attrs)+2 {
				t.Errorf("got %d keys, want %d attributes plus time and event", len(obj), len(attrs))
			}
			if obj["event"] != "linux.capability.check" {
				t.Errorf("event = %v", obj["event"])
			}
			for _, a := range attrs {
				got, ok := obj[a.Key]
				if !ok {
					t.Errorf("%s missing", a.Key)
					continue
				}
				// Round-trip the expected value through the same decoder
				// settings so that numbers and lists compare alike.
				var want any
				raw, _ := json.Marshal(jsonValue(a))
				d := json.NewDecoder(bytes.NewReader(raw))
				d.UseNumber()
				if err := d.Decode(&want); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", a.Key, got, want)
				}
			}
		})
	}
	if sc.Scan() {
		t.Errorf("extra line %q", sc.Text())
	}
}
