// Package bpf holds capprof's eBPF program and its bpf2go-generated loader.
//
// The C source is capprof.bpf.c; `make generate` (clang) rebuilds the
// committed objects, so `go build` needs no C toolchain.
package bpf

//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target amd64,arm64 -type check_event -type exec_event -type fork_event -type exit_event -type cgroup_event -type task_context -type ns_kind -type dedup_key -type dedup_value -type event_type -type audit_class -type lost_kind -type mode -type verdict_filter -type syscall_source Capprof capprof.bpf.c
