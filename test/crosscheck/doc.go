// Package crosscheck counts the capability checks of one workload with
// bpftrace, an independent recorder on the same tracepoint, and with
// capprof side by side: the counts must match exactly, and where capprof's
// ring buffer is too small, the difference must be what capprof reports as
// lost. The test is behind the integration build tag and needs root.
package crosscheck
