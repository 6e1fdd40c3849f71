package checklogs

import (
	"errors"
	"fmt"
	"io"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/capprof/capprof/internal/check"
)

// errClosed is returned by Write after Close.
var errClosed = errors.New("otlp-json writer is closed")

// JSONWriter writes one OTLP/JSON LogsData object per Write call, on one
// line: the layout of the Collector's file exporter, which its
// otlpjsonfile receiver, output.ReadOTLPJSON and jq read back. It is the
// output.Writer of `capprof record --format otlp-json`.
type JSONWriter struct {
	w      io.Writer
	mapper Mapper
	json   plog.JSONMarshaler
	closed bool
}

// NewJSONWriter writes to w, which it does not close: the caller opened it
// (often os.Stdout). version is the records' scope version.
func NewJSONWriter(w io.Writer, version string) *JSONWriter {
	return &JSONWriter{w: w, mapper: Mapper{Version: version}}
}

// Write writes checks as one line; an empty batch writes nothing, since an
// empty LogsData line would only be noise for readers.
func (o *JSONWriter) Write(checks []check.Check) error {
	if o.closed {
		return errClosed
	}
	if len(checks) == 0 {
		return nil
	}
	raw, err := o.json.MarshalLogs(o.mapper.Logs(checks))
	if err != nil {
		return fmt.Errorf("marshal otlp-json output: %w", err)
	}
	if _, err := o.w.Write(append(raw, '\n')); err != nil {
		return fmt.Errorf("write otlp-json output: %w", err)
	}
	return nil
}

// Close marks the writer closed; every Write already wrote its line.
func (o *JSONWriter) Close() error {
	o.closed = true
	return nil
}
