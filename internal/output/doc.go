// Package output writes recorded capability checks for people and for
// OpenTelemetry tools: an aligned one-line-per-check "pretty" view, flat
// JSON lines, and OTLP over gRPC through the OpenTelemetry Go log SDK; it
// reads OTLP/JSON lines back.
//
// Every writer reads the attribute list of [check.Check] (Resource and
// Attributes), so a check carries the same names and values in every format.
//
// This package must not import go.opentelemetry.io/collector/...: OTLP/JSON
// lines (--format otlp-json) are written by package checklogs, the one
// pdata mapping the Collector receiver uses too.
package output
