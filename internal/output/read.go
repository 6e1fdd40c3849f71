package output

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// Record is one log record read back from OTLP/JSON, its attributes as
// plain Go values (string, int64, float64, bool, []any, map[string]any).
type Record struct {
	Resource   map[string]any
	Attributes map[string]any
	EventName  string
	Time       time.Time
}

// LineError is a line that is not OTLP/JSON.
type LineError struct {
	Line int
	Err  error
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// maxLine bounds one OTLP/JSON line (one export request).
const maxLine = 256 << 20

// ReadOTLPJSON reads OTLP/JSON lines, as the Collector's file exporter and
// `capprof record --format otlp-json` write them, plain or gzip-compressed,
// and calls fn for every log record. A line that does not parse is
// skipped and returned as a LineError; the error is for reading r itself.
func ReadOTLPJSON(r io.Reader, fn func(Record)) ([]LineError, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("open gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var bad []LineError
	opts := protojson.UnmarshalOptions{DiscardUnknown: true}
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var data logspb.LogsData
		if err := opts.Unmarshal(line, &data); err != nil {
			bad = append(bad, LineError{Line: n, Err: err})
			continue
		}
		for _, rl := range data.GetResourceLogs() {
			resource := plainAttributes(rl.GetResource().GetAttributes())
			for _, sl := range rl.GetScopeLogs() {
				for _, lr := range sl.GetLogRecords() {
					ts := lr.GetTimeUnixNano()
					if ts == 0 {
						ts = lr.GetObservedTimeUnixNano()
					}
					fn(Record{
						Resource:   resource,
						Attributes: plainAttributes(lr.GetAttributes()),
						EventName:  lr.GetEventName(),
						Time:       time.Unix(0, int64(ts)).UTC(),
					})
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return bad, fmt.Errorf("read OTLP/JSON: %w", err)
	}
	return bad, nil
}

func plainAttributes(kvs []*commonpb.KeyValue) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = plainValue(kv.GetValue())
	}
	return m
}

func plainValue(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonpb.AnyValue_ArrayValue:
		out := make([]any, len(x.ArrayValue.GetValues()))
		for i, e := range x.ArrayValue.GetValues() {
			out[i] = plainValue(e)
		}
		return out
	case *commonpb.AnyValue_KvlistValue:
		return plainAttributes(x.KvlistValue.GetValues())
	case *commonpb.AnyValue_BytesValue:
		return x.BytesValue
	}
	return nil
}
