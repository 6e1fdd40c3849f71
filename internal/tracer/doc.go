// Package tracer loads capprof's eBPF program (package bpf), attaches it to
// cap_capable and the sched process tracepoints, configures the in-kernel
// filters, and reads the ring buffer.
//
// Attach methods, in the order "auto" tries them:
//
//	tp_btf          BTF tracepoint capability:cap_capable (Linux 6.14+), the cheapest
//	raw_tracepoint  the same tracepoint, arguments read with probe reads
//	tracepoint      the classic perf tracepoint
//	fexit           fexit on cap_capable (kernels before 6.14; sees opts and the return value)
//	kprobe          kprobe + kretprobe on cap_capable (Tetragon's method)
//
// The tracepoint passes no opts, so audit/NOAUDIT is classified from the
// kernel call site (see kallsyms.go); fexit and kprobe read it from opts.
package tracer
