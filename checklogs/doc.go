// Package checklogs is the one mapping of recorded capability checks to
// OpenTelemetry logs (pdata's plog.Logs). The Collector receiver, `capprof
// record --format otlp-json` (through plog.JSONMarshaler) and the tests of
// the connector all use [Mapper], so a check becomes the same OTLP record
// everywhere; the OpenTelemetry Go log SDK export of `--otlp-endpoint`
// walks the same attribute list of internal/check.
//
// It lives outside internal/ because pdata is a Collector module and the
// core never imports go.opentelemetry.io/collector (see the style rules):
// this package is the thin shell between the two, like the receiver.
//
// Records are grouped into one ResourceLogs per check.ResourceKey (a
// process of a container or of the host, in the user namespace it checked
// in) with one ScopeLogs. pdata allocates a value per attribute and scans a
// map's keys on every Put, so the mapping sizes every slice once (records
// per resource, attributes per record), builds a body once per resource,
// capability and verdict, and reuses its scratch space across batches; see
// BenchmarkLogs, and BenchmarkFloor for what pdata alone costs.
package checklogs
