// Package e2e runs the real otelcol-capprof binary on the real kernel with
// the configurations under otelcol-config/, triggers capability checks, and
// asserts on what the collector exports. The tests are behind the
// integration build tag and need root.
package e2e
