package profile

import (
	"strconv"
	"time"

	"github.com/capprof/capprof/internal/check"
)

// Resource is the resource of capability-check records read back from OTLP,
// decoded once and shared, read only, by the observations of all its
// records. The zero Resource is an empty one.
type Resource struct {
	fields  check.ResourceFields
	strings map[string]string
}

// NewResource decodes resource attributes given as the plain Go values of
// decoded OTLP (string, int64, bool, []any, as pcommon.Map.AsRaw and
// output.ReadOTLPJSON give them).
func NewResource(attrs map[string]any) Resource {
	return Resource{fields: check.DecodeResource(attrs), strings: stringAttributes(attrs)}
}

// declaredAttrs are the record attributes an Observation keeps besides its
// Check: the declared securityContext.
var declaredAttrs = [...]string{AttrDeclaredAdd, AttrDeclaredDrop, AttrDeclaredPrivileged}

// Observation turns a capability-check record of this resource into an
// Observation: record is its attributes, as plain Go values, at its time.
func (r Resource) Observation(record map[string]any, at time.Time) Observation {
	c := check.FromRecord(record, r.fields, at)
	var declared map[string]string
	for _, k := range declaredAttrs {
		if s, ok := scalarString(record[k]); ok {
			if declared == nil {
				declared = make(map[string]string, len(declaredAttrs))
			}
			declared[k] = s
		}
	}
	return Observation{Resource: r.strings, Attributes: declared, Check: c}
}

// stringAttributes keeps the scalar attributes as strings, as the key and
// the declared securityContext read them; lists and maps are left out.
func stringAttributes(attrs map[string]any) map[string]string {
	m := make(map[string]string, len(attrs))
	for k, v := range attrs {
		if s, ok := scalarString(v); ok {
			m[k] = s
		}
	}
	return m
}

// scalarString formats a string, int64 or bool value; other values are
// not scalars the profile reads.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}
