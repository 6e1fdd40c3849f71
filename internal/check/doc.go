// Package check defines one recorded capability check, attributed to its
// process and container, and the OpenTelemetry attribute names it is
// exported under. Every output (pretty, JSON, OTLP, the Collector receiver)
// reads the same attribute list, so the names live in one place.
package check
