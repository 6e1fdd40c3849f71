// Package output writes recorded capability checks for people and for
// OpenTelemetry tools: an aligned one-line-per-check "pretty" view, flat
// JSON lines, OTLP/JSON lines (what the Collector's file exporter writes)
// and OTLP over gRPC through the OpenTelemetry Go log SDK.
//
// Every writer reads the attribute list of [check.Check] (Resource and
// Attributes), so a check carries the same names and values in every format.
// The per-kind conversion of a [check.Attr] lives in attr.go and nowhere
// else.
//
// This package must not import go.opentelemetry.io/collector/...: the
// OTLP/JSON output is built from the generated OTLP protobuf types instead of
// the Collector's pdata.
package output
