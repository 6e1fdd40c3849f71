// Package otelcolconfig holds the configurations of otelcol-capprof, capprof's
// OpenTelemetry Collector distribution: local.yaml, the default it runs when
// given no --config; builder-config.yaml, the ocb manifest of the same
// distribution; and examples/.
//
// It is a Go package only so that the distribution's main can embed
// local.yaml: go:embed cannot reach a parent directory.
package otelcolconfig
