// Package checktest holds the checks that the tests and benchmarks of the
// OTLP mapping (checklogs) and of the receiver feed in, so that they all map
// the same records.
package checktest
