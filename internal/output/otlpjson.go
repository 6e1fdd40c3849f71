package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/capprof/capprof/internal/check"
)

// scopeName is the instrumentation scope of every record capprof emits.
const scopeName = "github.com/capprof/capprof"

// otlpJSONWriter writes one OTLP/JSON LogsData object per Write call, on one
// line: the layout of the Collector's file exporter, which its otlpjsonfile
// receiver and jq read back.
type otlpJSONWriter struct {
	w      io.Writer
	buf    bytes.Buffer
	closed bool
}

func (o *otlpJSONWriter) Write(checks []check.Check) error {
	if o.closed {
		return errClosed
	}
	// An empty LogsData line would only be noise for readers.
	if len(checks) == 0 {
		return nil
	}
	// OTLP/JSON rules: lowerCamelCase field names and 64-bit integers as
	// strings are protojson's defaults; enums must be numbers.
	raw, err := protojson.MarshalOptions{UseEnumNumbers: true}.Marshal(logsData(checks))
	if err != nil {
		return fmt.Errorf("marshal otlp-json output: %w", err)
	}
	// protojson inserts random spaces on purpose so that nobody depends on
	// its exact bytes. Compacting makes the output the same in every build,
	// which keeps diffs of recorded files and golden tests meaningful.
	o.buf.Reset()
	if err := json.Compact(&o.buf, raw); err != nil {
		return fmt.Errorf("compact otlp-json output: %w", err)
	}
	o.buf.WriteByte('\n')
	if _, err := o.w.Write(o.buf.Bytes()); err != nil {
		return fmt.Errorf("write otlp-json output: %w", err)
	}
	return nil
}

// Close marks the writer closed; every Write already wrote its line.
func (o *otlpJSONWriter) Close() error {
	o.closed = true
	return nil
}

// logsData groups checks into one ResourceLogs per ResourceKey, in the order
// the resources first appear, each with a single ScopeLogs.
func logsData(checks []check.Check) *logspb.LogsData {
	data := &logspb.LogsData{}
	scopes := make(map[check.ResourceKey]*logspb.ScopeLogs)
	for i := range checks {
		c := &checks[i]
		key := c.ResourceKey()
		sl, ok := scopes[key]
		if !ok {
			sl = &logspb.ScopeLogs{Scope: &commonpb.InstrumentationScope{Name: scopeName}}
			scopes[key] = sl
			data.ResourceLogs = append(data.ResourceLogs, &logspb.ResourceLogs{
				Resource:  &resourcepb.Resource{Attributes: protoKeyValues(c.Resource())},
				ScopeLogs: []*logspb.ScopeLogs{sl},
			})
		}
		sl.LogRecords = append(sl.LogRecords, logRecord(c))
	}
	return data
}

func logRecord(c *check.Check) *logspb.LogRecord {
	t := unixNano(c.Time)
	sev := c.Severity()
	return &logspb.LogRecord{
		TimeUnixNano:         t,
		ObservedTimeUnixNano: t,
		SeverityNumber:       logspb.SeverityNumber(sev),
		SeverityText:         sev.String(),
		Body:                 &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: c.Body()}},
		Attributes:           protoKeyValues(c.Attributes()),
		EventName:            check.EventName,
	}
}

func protoKeyValues(attrs []check.Attr) []*commonpb.KeyValue {
	kvs := make([]*commonpb.KeyValue, len(attrs))
	for i, a := range attrs {
		kvs[i] = protoKeyValue(a)
	}
	return kvs
}

// unixNano is t in nanoseconds since the epoch, or 0 (OTLP's "unknown") for
// the zero time and times before 1970, which UnixNano cannot represent.
func unixNano(t time.Time) uint64 {
	if t.IsZero() || t.Before(time.Unix(0, 0)) {
		return 0
	}
	return uint64(t.UnixNano())
}
