package output

import (
	"go.opentelemetry.io/otel/attribute"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"

	"github.com/capprof/capprof/internal/check"
)

// These two functions are the only places that map a check.Attr kind to an
// OpenTelemetry value, so that the OTLP/JSON file and the OTLP gRPC export
// cannot drift apart. (The JSON lines writer uses check.Attr.Value.)

// protoKeyValue converts a to the OTLP protobuf KeyValue.
func protoKeyValue(a check.Attr) *commonpb.KeyValue {
	v := &commonpb.AnyValue{}
	switch a.Kind {
	case check.KindInt:
		v.Value = &commonpb.AnyValue_IntValue{IntValue: a.Int}
	case check.KindBool:
		v.Value = &commonpb.AnyValue_BoolValue{BoolValue: a.Bool}
	case check.KindStrings:
		arr := &commonpb.ArrayValue{Values: make([]*commonpb.AnyValue, len(a.Strings))}
		for i, s := range a.Strings {
			arr.Values[i] = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
		}
		v.Value = &commonpb.AnyValue_ArrayValue{ArrayValue: arr}
	default:
		v.Value = &commonpb.AnyValue_StringValue{StringValue: a.Str}
	}
	return &commonpb.KeyValue{Key: a.Key, Value: v}
}

// otelKeyValue converts a to the OpenTelemetry Go attribute the log SDK
// takes, both for record attributes and for resource attributes. (Since
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
