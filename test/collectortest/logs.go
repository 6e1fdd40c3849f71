package collectortest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// ReadLogs reads a file exporter's OTLP/JSON lines.
func ReadLogs(t testing.TB, path string) []plog.Logs {
	t.Helper()
	out, err := ReadLogsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ReadLogsFile is ReadLogs for programs other than tests.
func ReadLogsFile(path string) ([]plog.Logs, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// A line is one batch of the exporter's: a gateway's profiles at
	// shutdown are one, of any length.
	var out []plog.Logs
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			logs, uerr := (&plog.JSONUnmarshaler{}).UnmarshalLogs(line)
			if uerr != nil {
				return nil, fmt.Errorf("%s: not OTLP/JSON: %w", path, uerr)
			}
			out = append(out, logs)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
	return out, nil
}

// EachRecord calls fn with every log record and its resource.
func EachRecord(all []plog.Logs, fn func(res pcommon.Resource, lr plog.LogRecord)) {
	for _, logs := range all {
		for i := 0; i < logs.ResourceLogs().Len(); i++ {
			rl := logs.ResourceLogs().At(i)
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				records := rl.ScopeLogs().At(j).LogRecords()
				for k := 0; k < records.Len(); k++ {
					fn(rl.Resource(), records.At(k))
				}
			}
		}
	}
}

// StringList is a string-array attribute of a record; nil when absent.
func StringList(lr plog.LogRecord, key string) []string {
	v, ok := lr.Attributes().Get(key)
	if !ok || v.Type() != pcommon.ValueTypeSlice {
		return nil
	}
	out := []string{}
	for i := 0; i < v.Slice().Len(); i++ {
		out = append(out, v.Slice().At(i).AsString())
	}
	return out
}

// IntValue is an integer attribute of a record; 0 when absent.
func IntValue(lr plog.LogRecord, key string) int64 {
	v, _ := lr.Attributes().Get(key)
	return v.Int()
}
