// Package collectortest runs the repository's binaries for the end-to-end
// tests: otelcol-capprof with a config file of the repository (an agent, or
// the gateway of deploy/base), and reads what its file exporters wrote.
// test/e2e (tag integration) and test/k8se2e (tag e2e) both use it, and the
// benchmark test/benchcluster through its Launch functions. It is
// outside internal/ because it reads OTLP with the Collector's pdata, which
// the core packages never import.
package collectortest
