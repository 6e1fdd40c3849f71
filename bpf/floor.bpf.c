//go:build ignore

// Empty programs on each of capprof's attach points: the floor that
// `make bench-kernel` measures capprof's per-check cost against.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/cap_capable")
int BPF_PROG(floor_tp_btf) { return 0; }

SEC("raw_tracepoint/cap_capable")
int floor_raw_tp(void *ctx) { return 0; }

SEC("tracepoint/capability/cap_capable")
int floor_tp(void *ctx) { return 0; }

SEC("fexit/cap_capable")
int BPF_PROG(floor_fexit) { return 0; }

SEC("kprobe/cap_capable")
int floor_kprobe(void *ctx) { return 0; }
