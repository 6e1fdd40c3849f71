// Package procstat reads what a running process uses from /proc: its
// resident memory split by what backs it, and its CPU time. The benchmark
// commands (test/benchmemory, test/benchcluster) measure collectors with it.
package procstat
