// The kernel types capprof's programs are compiled against, for the
// architecture bpf2go targets (it defines __TARGET_ARCH_<arch>). Layouts
// differ by kernel version; CO-RE relocates every field access to the
// running kernel's layout when the program loads, so one object serves
// every kernel of its architecture.
//
//   vmlinux_x86.h    the running x86_64 kernel's BTF (`make vmlinux-x86`), 6.18
//   vmlinux_arm64.h  Debian's arm64 kernel package's BTF (`make vmlinux-arm64`), 6.1
#ifndef __CAPPROF_VMLINUX_H__
#define __CAPPROF_VMLINUX_H__

#if defined(__TARGET_ARCH_x86)
#include "vmlinux_x86.h"
#elif defined(__TARGET_ARCH_arm64)
#include "vmlinux_arm64.h"

// The capability:cap_capable tracepoint's record (include/trace/events/
// capability.h) exists since 6.14, after the arm64 header's 6.1: declared
// here, relocated against the kernel's trace_event_raw_cap_capable where
// the tracepoint program loads.
struct trace_event_raw_cap_capable {
	struct trace_entry ent;
	const struct cred *cred;
	struct user_namespace *target_ns;
	const struct user_namespace *capable_ns;
	int cap;
	int ret;
	char __data[0];
} __attribute__((preserve_access_index));
#else
#error "capprof's BPF programs are built for x86 and arm64 only"
#endif

#endif /* __CAPPROF_VMLINUX_H__ */
