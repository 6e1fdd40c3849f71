package output

import (
	"go.opentelemetry.io/otel/attribute"

	"github.com/capprof/capprof/internal/check"
)

// otelKeyValue converts a to the OpenTelemetry Go attribute the log SDK
// takes, for record and resource attributes alike. (Since
// go.opentelemetry.io/otel/log v0.22.0 the log API uses attribute.KeyValue;
// there is no separate log.KeyValue any more.)
func otelKeyValue(a check.Attr) attribute.KeyValue {
	switch a.Kind {
	case check.KindInt:
		return attribute.Int64(a.Key, a.Int)
	case check.KindBool:
		return attribute.Bool(a.Key, a.Bool)
	case check.KindStrings:
		return attribute.StringSlice(a.Key, a.Strings)
	default:
		return attribute.String(a.Key, a.Str)
	}
}
