package profile

import (
	"strconv"
	"time"

	"github.com/capprof/capprof/internal/check"
)

// ObservationOf turns a capability-check record read back from OTLP into an
// Observation: record and resource are its attributes as the plain Go values
// of decoded OTLP (string, int64, bool, []any, as pcommon.Map.AsRaw and
// output.ReadOTLPJSON give them), at is the record's time.
func ObservationOf(record, resource map[string]any, at time.Time) Observation {
	runtimeSetup, _ := record[AttrRuntimeSetup].(bool)
	return Observation{
		Resource:     stringAttributes(resource),
		Attributes:   stringAttributes(record),
		RuntimeSetup: runtimeSetup,
		Check:        check.FromAttributes(record, resource, at),
	}
}

// stringAttributes keeps the scalar attributes as strings, as the key and
// the declared securityContext read them; lists and maps are left out.
func stringAttributes(attrs map[string]any) map[string]string {
	m := make(map[string]string, len(attrs))
	for k, v := range attrs {
		switch x := v.(type) {
		case string:
			m[k] = x
		case int64:
			m[k] = strconv.FormatInt(x, 10)
		case bool:
			m[k] = strconv.FormatBool(x)
		}
	}
	return m
}
