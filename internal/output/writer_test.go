package output

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseFormat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Format
		wantErr string
	}{
		{name: "pretty", in: "pretty", want: FormatPretty},
		{name: "json", in: "json", want: FormatJSON},
		{name: "otlp-json", in: "otlp-json", want: FormatOTLPJSON},
		{name: "unknown lists the valid names", in: "yaml", wantErr: `unknown output format "yaml" (valid: pretty, json, otlp-json)`},
		{name: "otlp is not a file format", in: "otlp", wantErr: "valid: pretty, json, otlp-json"},
		{name: "empty", in: "", wantErr: `unknown output format ""`},
		{name: "case matters", in: "JSON", wantErr: "unknown output format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFormat(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseFormat(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseFormat(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name    string
		format  Format
		nilW    bool
		wantErr string
	}{
		{name: "unknown format", format: "xml", wantErr: "valid: pretty, json, otlp-json"},
		{name: "nil writer", format: FormatJSON, nilW: true, wantErr: "nil io.Writer"},
		{name: "otlp-json is not written here", format: FormatOTLPJSON, wantErr: "package checklogs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := New(tt.format, &buf)
			if tt.nilW {
				w, err = New(tt.format, nil)
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want it to contain %q", err, tt.wantErr)
			}
			if w != nil {
				t.Fatalf("New returned a writer with an error")
			}
		})
	}
}

// written are the formats New writes.
var written = []Format{FormatPretty, FormatJSON}

func TestFileWriterLifecycle(t *testing.T) {
	for _, f := range written {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			w, err := New(f, &buf)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(nil); err != nil {
				t.Fatalf("Write(nil) = %v", err)
			}
			if buf.Len() != 0 {
				t.Fatalf("an empty batch wrote %q", buf.String())
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Close = %v", err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("second Close = %v", err)
			}
			if err := w.Write(fixture()); !errors.Is(err, errClosed) {
				t.Fatalf("Write after Close = %v, want errClosed", err)
			}
		})
	}
}

// failingWriter fails every write, like a closed pipe.
type failingWriter struct{}

var errBrokenPipe = errors.New("broken pipe")

func (failingWriter) Write([]byte) (int, error) { return 0, errBrokenPipe }

func TestFileWriterWriteError(t *testing.T) {
	for _, f := range written {
		t.Run(string(f), func(t *testing.T) {
			w, err := New(f, failingWriter{})
			if err != nil {
				t.Fatal(err)
			}
			err = w.Write(fixture())
			if !errors.Is(err, errBrokenPipe) || !strings.Contains(err.Error(), string(f)) {
				t.Fatalf("Write = %v, want a wrapped broken pipe naming %s", err, f)
			}
		})
	}
}
