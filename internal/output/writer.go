package output

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/capprof/capprof/internal/check"
)

// Writer writes batches of checks. Write may be called many times; Close
// flushes and releases. File-like writers do not close the io.Writer they
// were given: the caller opened it (often os.Stdout) and owns it.
type Writer interface {
	Write(checks []check.Check) error
	Close() error
}

// Format names a file-like output format.
type Format string

// The file-like formats New accepts.
const (
	FormatPretty   Format = "pretty"
	FormatJSON     Format = "json"
	FormatOTLPJSON Format = "otlp-json"
)

// formats is the list ParseFormat accepts, in the order its error names them.
var formats = [...]Format{FormatPretty, FormatJSON, FormatOTLPJSON}

// errClosed is returned by Write after Close.
var errClosed = errors.New("output writer is closed")

// ParseFormat parses a format name; the error lists the valid names.
func ParseFormat(s string) (Format, error) {
	for _, f := range formats {
		if s == string(f) {
			return f, nil
		}
	}
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown output format %q (valid: %s)", s, strings.Join(names, ", "))
}

// New returns a writer for pretty or json writing to w. otlp-json is
// written by checklogs.NewJSONWriter, which maps checks with pdata: a
// Collector module, which the core does not import.
func New(f Format, w io.Writer) (Writer, error) {
	if w == nil {
		return nil, fmt.Errorf("new %s writer: nil io.Writer", f)
	}
	switch f {
	case FormatPretty:
		return &prettyWriter{w: w}, nil
	case FormatJSON:
		return &jsonWriter{w: w}, nil
	case FormatOTLPJSON:
		return nil, errors.New("new writer: otlp-json is written by package checklogs")
	}
	_, err := ParseFormat(string(f))
	return nil, fmt.Errorf("new writer: %w", err)
}
