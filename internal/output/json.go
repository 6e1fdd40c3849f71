package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/capprof/capprof/internal/check"
)

// jsonWriter writes one flat JSON object per check and line.
//
// Keys come in a fixed order: "time" (RFC 3339, UTC, nanoseconds) and
// "event" first, because that is what a person scanning the lines looks for
// first, then the resource attributes, then the record attributes in
// check.Attributes order. The object is assembled by hand because a Go map
// would randomise that order; encoding/json still encodes every key and
// value, so escaping is always right.
type jsonWriter struct {
	w      io.Writer
	buf    bytes.Buffer
	enc    *json.Encoder
	closed bool
}

func (j *jsonWriter) Write(checks []check.Check) error {
	if j.closed {
		return errClosed
	}
	if j.enc == nil {
		j.enc = json.NewEncoder(&j.buf)
		// Paths and arguments are shown to people; "\u0026" for "&"
		// would only get in the way and no HTML is involved.
		j.enc.SetEscapeHTML(false)
	}
	j.buf.Reset()
	for i := range checks {
		if err := j.appendCheck(&checks[i]); err != nil {
			return fmt.Errorf("encode json output: %w", err)
		}
	}
	if j.buf.Len() == 0 {
		return nil
	}
	if _, err := j.w.Write(j.buf.Bytes()); err != nil {
		return fmt.Errorf("write json output: %w", err)
	}
	return nil
}

// Close marks the writer closed; every Write already wrote its lines.
func (j *jsonWriter) Close() error {
	j.closed = true
	return nil
}

func (j *jsonWriter) appendCheck(c *check.Check) error {
	j.buf.WriteByte('{')
	if err := j.member("time", c.Time.UTC().Format(time.RFC3339Nano), false); err != nil {
		return err
	}
	if err := j.member("event", check.EventName, true); err != nil {
		return err
	}
	for _, attrs := range [][]check.Attr{c.Resource(), c.Attributes()} {
		for _, a := range attrs {
			if err := j.member(a.Key, jsonValue(a), true); err != nil {
				return err
			}
		}
	}
	j.buf.WriteString("}\n")
	return nil
}

// member appends `"key":value`, preceded by a comma unless it is the first.
func (j *jsonWriter) member(key string, value any, comma bool) error {
	if comma {
		j.buf.WriteByte(',')
	}
	if err := j.encode(key); err != nil {
		return err
	}
	j.buf.WriteByte(':')
	return j.encode(value)
}

// encode appends v without the newline json.Encoder ends every value with.
func (j *jsonWriter) encode(v any) error {
	if err := j.enc.Encode(v); err != nil {
		return err
	}
	j.buf.Truncate(j.buf.Len() - 1)
	return nil
}

// jsonValue is a's value for encoding/json. A nil list (an empty effective
// set, say) becomes [] rather than null, so the key always holds an array.
func jsonValue(a check.Attr) any {
	v := a.Value()
	if s, ok := v.([]string); ok && s == nil {
		return []string{}
	}
	return v
}
