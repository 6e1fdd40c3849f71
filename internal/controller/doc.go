// Package controller drives one recording: it opens the tracer, seeds the
// process cache and the cgroup resolver, turns ring-buffer events into
// attributed checks, flushes unique-mode counts, and hands batches to a
// sink. `capprof record` and the Collector receiver are thin shells over it.
package controller
