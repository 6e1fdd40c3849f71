//go:build ignore

// capprof's kernel side: it records every cap_capable() verdict, and the
// exec/fork/exit events that let user space attribute a check to its process.
//
// One handler (handle_check) serves five attach methods:
//   tp_btf/cap_capable, raw_tracepoint/cap_capable, tracepoint/capability/cap_capable
//     (the tracepoint exists since Linux 6.14, commit d48da4d5ed7b; it has no opts)
//   fexit/cap_capable, kprobe+kretprobe/cap_capable
//     (older kernels; they see opts, so they know CAP_OPT_NOAUDIT)
// User space loads only the programs of the method it picked.
//
// The floor is Linux 5.10 with BTF. What newer kernels add is chosen at load
// time by user space, which probes the kernel and sets the cfg_task_btf and
// cfg_syscall_from switches; the verifier drops the branches they rule out,
// so a helper the kernel lacks is never seen by it.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define CAP_OPT_NOAUDIT (1U << 1) /* include/linux/security.h, since 5.1 */
#define PF_KTHREAD 0x00200000     /* include/linux/sched.h */
#define MAX_FILENAME 256
#define MAX_ARGS 1024
#define MAX_NOAUDIT_RANGES 8
#define STACK_DEPTH 8
#define MAX_CGROUP_FILTERS 8
#define CLASS_CACHE_SLOTS 64 /* a power of two */
#define MAX_CGROUP_PATH 512
#define MAX_CAPS 64 /* cap ids the filters and counters index: 0..63 */

enum event_type {
	EVENT_CHECK = 1,
	EVENT_EXEC = 2,
	EVENT_FORK = 3,
	EVENT_EXIT = 4,
	EVENT_CGROUP_MKDIR = 5,
};

// What a check says about auditing. AUDIT_UNKNOWN when neither opts nor the
// call-site classification could tell.
enum audit_class {
	AUDIT_UNKNOWN = 0,
	AUDIT_YES = 1,
	AUDIT_NO = 2,
};

enum verdict_filter {
	VERDICT_ALL = 0,
	VERDICT_DENIED = 1,
	VERDICT_GRANTED = 2,
};

enum lost_kind {
	LOST_CHECKS = 0,
	LOST_PROCESS_EVENTS = 1,
};

enum mode {
	MODE_STREAM = 0,
	MODE_UNIQUE = 1,
};

// Where the syscall number of a check comes from.
enum syscall_source {
	SYSCALL_NONE = 0,      /* not on this kernel: every check says -1 */
	SYSCALL_PT_REGS = 1,   /* bpf_task_pt_regs (5.15+) */
	SYSCALL_STACK_TOP = 2, /* task_pt_regs() by hand: cfg_thread_size */
};

struct check_event {
	u8 type;
	u8 cap;
	u8 denied;
	u8 audit;        /* enum audit_class */
	u8 foreign_cred; /* cred != current->cred */
	u8 ns_is_host;
	u8 new_key;   /* unique mode: the first check of its dedup key */
	u8 key_audit; /* the audit field of its dedup key */
	u32 pid;
	u32 tid;
	u32 uid;
	u32 euid;
	u32 ns_level;
	u32 ns_inum;
	u32 ns_owner_uid;
	u32 ns_owner_gid;
	s32 syscall; /* -1: not in a syscall, or a kernel thread */
	// In the host's mount namespace (pid 1's). A check in a container's
	// cgroup from there is the runtime's: the container's own processes run
	// in its mount namespace, runc init's first stage never leaves the host's.
	u8 mnt_ns_is_host;
	u8 _pad2[3];
	u64 cgroup_id;
	u64 effective; /* the checked credentials' effective set */
	u64 exe_ino;
	u64 exe_dev;
	u64 time_ns; /* bpf_ktime_get_boot_ns */
	// The checking thread's name, which tells the container runtime's setup
	// from the container's program even when the runtime's exec was filtered
	// out: runc's nsexec names its stages runc:[0:PARENT], runc:[1:CHILD] and
	// runc:[2:INIT], and crun and youki keep their own names until the exec
	// of the entrypoint.
	char comm[TASK_COMM_LEN];
};

// A process's namespaces, as /proc/PID/ns/ names them; task_context's ns
// is indexed by these.
enum ns_kind {
	NS_UTS = 0,
	NS_IPC = 1,
	NS_MNT = 2,
	NS_PID = 3,
	NS_PID_FOR_CHILDREN = 4,
	NS_NET = 5,
	NS_TIME = 6,
	NS_TIME_FOR_CHILDREN = 7,
	NS_CGROUP = 8,
	NS_USER = 9,
	NS_KINDS = 10,
};

// What a process runs in, read at exec and fork: only the kernel can tell
// it for a process gone before user space reads /proc. Checks do not carry
// it: it changes rarely, and user space keeps it per process.
struct task_context {
	u32 ns[NS_KINDS]; /* the namespaces' inode numbers; 0 where the kernel has none */
	u32 loginuid;     /* audit login uid; (u32)-1 when unset */
	u32 vpid;         /* the thread group id in the task's own pid namespace */
};

struct exec_event {
	u8 type;
	u8 _pad[3];
	u32 pid;
	u32 ppid;
	u32 uid;
	u32 euid;
	u32 args_len;
	u64 start_ns; /* task->start_boottime */
	u64 time_ns;
	struct task_context ctx;
	char filename[MAX_FILENAME];
	char args[MAX_ARGS]; /* argv, NUL separated, args_len bytes */
};

struct fork_event {
	u8 type;
	u8 _pad[3];
	u32 parent_pid;
	u32 child_pid;
	u32 _pad2;
	u64 start_ns;
	struct task_context ctx; /* the child's */
};

struct exit_event {
	u8 type;
	u8 _pad[3];
	u32 pid;
	u64 time_ns;
	u32 exit_code; /* task->exit_code: a wait status, (code << 8) | signal */
	u32 _pad2;
};

// A cgroup2 directory was created. User space learns its path here, so that
// a check in a cgroup already removed when user space reads it (a short-lived
// container) still resolves.
struct cgroup_event {
	u8 type;
	u8 _pad[7];
	u64 cgroup_id; /* cgrp->kn->id: the directory's inode, bpf_get_current_cgroup_id */
	char path[MAX_CGROUP_PATH]; /* relative to the hierarchy's root, NUL-terminated */
};

// The dedup key of unique mode: stable, low-churn fields only.
struct dedup_key {
	u64 cgroup_id;
	u64 exe_ino;
	u64 exe_dev;
	s32 syscall;
	u32 ns_level;
	u8 cap;
	u8 denied;
	u8 audit; /* from opts (fexit/kprobe); AUDIT_UNKNOWN on the tracepoint */
	u8 _pad[5];
};

// stream_audit_class compares keys as five u64 words.
_Static_assert(sizeof(struct dedup_key) == 40, "dedup_key must be 40 bytes");

struct dedup_value {
	u64 count;
	u64 first_ns; /* when the key was inserted: tells a re-inserted key from its evicted namesake */
	u8 audit;     /* the classification made when the key was new */
	u8 _pad[7];
};

struct addr_range {
	u64 start;
	u64 end;
	u32 class; /* enum audit_class of checks made below this function */
	u32 _pad;
};

struct kprobe_args {
	u64 cred; /* const struct cred * */
	u64 ns;   /* struct user_namespace * */
	s32 cap;
	u32 opts;
};

// Configuration, written by user space before load. Global constants let the
// verifier prune what a configuration does not use.
volatile const u8 cfg_mode = MODE_STREAM;
volatile const u8 cfg_verdict = VERDICT_ALL;
// Drop the checks known to be NOAUDIT before any map or ring-buffer work
// but the classification's own, counting them in noaudit_skipped.
volatile const u8 cfg_audited_only = 0;
volatile const u64 cfg_caps = ~0ULL;
volatile const u8 cfg_include_host = 1;
volatile const u32 cfg_host_mntns = 0; /* mount namespace of pid 1 */
volatile const u32 cfg_cgroup_include = 0; /* entries used in cgroup_include */
volatile const u32 cfg_cgroup_exclude = 0;
volatile const u8 cfg_pid_filter = 0;
volatile const u64 cfg_wakeup_bytes = 64 * 1024;
volatile const u32 cfg_noaudit_ranges = 0;
volatile const struct addr_range noaudit_ranges[MAX_NOAUDIT_RANGES] = {};
// What the kernel offers. cfg_task_btf: bpf_get_current_task_btf (5.11+),
// the running task as a typed pointer whose fields are plain loads; without
// it the task's fields are read with CO-RE probe reads.
volatile const u8 cfg_task_btf = 1;
volatile const u8 cfg_syscall_from = SYSCALL_PT_REGS; /* enum syscall_source */
volatile const u32 cfg_thread_size = 0; /* THREAD_SIZE, for SYSCALL_STACK_TOP */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* user space sets the real size */
} events SEC(".maps");

// Events the ring buffer had no room for, per CPU: checks at LOST_CHECKS,
// process events at LOST_PROCESS_EVENTS, so that a loss of checks can be
// told from a loss of attribution.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, u64);
} lost SEC(".maps");

// NOAUDIT checks dropped by cfg_audited_only, per capability and CPU.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_CAPS);
	__type(key, u32);
	__type(value, u64);
} noaudit_skipped SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768); /* user space sets the real size */
	__type(key, struct dedup_key);
	__type(value, struct dedup_value);
} dedup SEC(".maps");

// Stream mode's per-CPU cache of recent call-site classifications.
struct class_slot {
	struct dedup_key key;
	u8 audit;
	u8 _pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CLASS_CACHE_SLOTS);
	__type(key, u32);
	__type(value, struct class_slot);
} class_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, MAX_CGROUP_FILTERS);
	__type(key, u32);
	__type(value, u32);
} cgroup_include SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, MAX_CGROUP_FILTERS);
	__type(key, u32);
	__type(value, u32);
} cgroup_exclude SEC(".maps");

// The live selection: the cgroups of the pods and containers that
// CapabilityRecordings and `capprof record --namespace` select, by cgroup v2
// id. User space adds and removes ids as pods come and go, without
// reloading; its size is user space's (no fixed limit like the subtree
// filters'). A task is selected when its own cgroup (a selected container)
// or its cgroup's parent (a selected pod, whose containers are its
// children in every kubelet layout) is in the map.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* user space sets the real size */
	__type(key, u64);
	__type(value, u8);
} selected_cgroups SEC(".maps");

// Whether the selection applies: entry 0 is 1 while it does (a recording
// exists, or the agent records only what is selected), 0 to record every
// task the static filters let through. A map rather than a constant: it
// changes while the program runs.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u32);
} selection_active SEC(".maps");

// Checks dropped because their task is outside the selection, per
// capability and CPU.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_CAPS);
	__type(key, u32);
	__type(value, u64);
} unselected_skipped SEC(".maps");

// The process tree selected by --pid: seeded by user space, grown on fork.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, u32);
	__type(value, u8);
} tracked_pids SEC(".maps");

// kprobe arguments, kept until the kretprobe of the same thread.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u32);
	__type(value, struct kprobe_args);
} kprobe_inflight SEC(".maps");

// Unused instances make bpf2go emit Go types for the events.
const struct check_event *unused_check __attribute__((unused));
const struct exec_event *unused_exec __attribute__((unused));
const struct fork_event *unused_fork __attribute__((unused));
const struct exit_event *unused_exit __attribute__((unused));
const struct cgroup_event *unused_cgroup_event __attribute__((unused));
const struct task_context *unused_task_context __attribute__((unused));
const enum ns_kind *unused_ns_kind __attribute__((unused));
const struct dedup_key *unused_key __attribute__((unused));
const struct dedup_value *unused_value __attribute__((unused));
const struct addr_range *unused_range __attribute__((unused));
const enum event_type *unused_event_type __attribute__((unused));
const enum audit_class *unused_audit_class __attribute__((unused));
const enum lost_kind *unused_lost_kind __attribute__((unused));
const enum mode *unused_mode __attribute__((unused));
const enum verdict_filter *unused_verdict_filter __attribute__((unused));
const enum syscall_source *unused_syscall_source __attribute__((unused));

static __always_inline void count_lost(u32 kind)
{
	u64 *n = bpf_map_lookup_elem(&lost, &kind);
	if (n)
		*n += 1;
}

// reserve takes room for an event in the ring buffer, or counts it lost.
static __always_inline void *reserve(u64 size, u32 lost_kind)
{
	void *e = bpf_ringbuf_reserve(&events, size, 0);
	if (!e)
		count_lost(lost_kind);
	return e;
}

// Wake the reader once, when the record of size bytes takes the data
// waiting past cfg_wakeup_bytes: a wakeup costs more than an event, and one
// per event until the reader runs would cost that on every check. The
// reader's deadline bounds the delay of what stays below the threshold.
static __always_inline u64 submit_flags(u64 size)
{
	u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	u64 footprint = (size + BPF_RINGBUF_HDR_SZ + 7) & ~7ULL;

	if (avail >= cfg_wakeup_bytes && avail < cfg_wakeup_bytes + footprint)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

// current_task is the running task: typed where the kernel has
// bpf_get_current_task_btf (5.11+), else an address whose fields the
// callers read with CO-RE probe reads (typed false).
static __always_inline struct task_struct *current_task(void)
{
	if (cfg_task_btf)
		return bpf_get_current_task_btf();
	return (struct task_struct *)bpf_get_current_task();
}

// in_host_mntns: host processes are those in pid 1's mount namespace. An
// exiting task has no nsproxy any more (a probe read through it reads 0).
static __always_inline bool in_host_mntns(struct task_struct *task, bool typed)
{
	if (!typed)
		return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum) == cfg_host_mntns;
	return task->nsproxy && task->nsproxy->mnt_ns->ns.inum == cfg_host_mntns;
}

// task_selected applies the "who" filters: host processes, cgroup subtrees
// and the pid tree. They are shared by checks and process events.
static __always_inline bool task_selected(struct task_struct *task, bool typed, u32 tgid)
{
	if (!cfg_include_host && in_host_mntns(task, typed))
		return false;

	if (cfg_cgroup_include) {
		bool in = false;
		for (u32 i = 0; i < MAX_CGROUP_FILTERS; i++) {
			if (i >= cfg_cgroup_include)
				break;
			if (bpf_current_task_under_cgroup(&cgroup_include, i) == 1) {
				in = true;
				break;
			}
		}
		if (!in)
			return false;
	}
	for (u32 i = 0; i < MAX_CGROUP_FILTERS; i++) {
		if (i >= cfg_cgroup_exclude)
			break;
		if (bpf_current_task_under_cgroup(&cgroup_exclude, i) == 1)
			return false;
	}

	if (cfg_pid_filter && !bpf_map_lookup_elem(&tracked_pids, &tgid))
		return false;
	return true;
}

// outside_selection reports whether the selection applies and the task,
// the current one, is outside it. The parent's id is read through the
// cgroup's css (self.parent), which every kernel from the floor has; the
// root cgroup has no parent and reads 0, which no cgroup is.
static __always_inline bool outside_selection(struct task_struct *task, bool typed)
{
	u32 zero = 0;
	u32 *active = bpf_map_lookup_elem(&selection_active, &zero);
	if (!active || !*active)
		return false;
	u64 id = bpf_get_current_cgroup_id();
	if (bpf_map_lookup_elem(&selected_cgroups, &id))
		return false;
	u64 parent;
	if (typed) {
		struct cgroup_subsys_state *css = task->cgroups->dfl_cgrp->self.parent;
		parent = css ? css->cgroup->kn->id : 0;
	} else {
		parent = BPF_CORE_READ(task, cgroups, dfl_cgrp, self.parent, cgroup, kn, id);
	}
	return !bpf_map_lookup_elem(&selected_cgroups, &parent);
}

// count_skipped counts a check dropped by a filter in counters, a per-CPU
// array by capability (noaudit_skipped, unselected_skipped); the program
// then returns its 0.
static __always_inline int count_skipped(void *counters, int cap)
{
	u32 k = cap;
	u64 *n = bpf_map_lookup_elem(counters, &k);
	if (n)
		*n += 1;
	return 0;
}

// struct cred's capability sets as 6.3+ lays them out (commit f122a08b197d:
// kernel_cap_t became one u64), whatever the vmlinux header says: CO-RE
// matches this flavor to struct cred and tells at load time whether
// cap_effective.val exists.
struct kernel_cap_u64 {
	u64 val;
};

struct cred___cap_u64 {
	struct kernel_cap_u64 cap_effective;
} __attribute__((preserve_access_index));

#if defined(__TARGET_ARCH_x86)
#define SYSCALL_REG orig_ax
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_REG syscallno
#endif

// current_syscall is the number of the syscall the task is in, read from the
// user registers that the syscall entry saved: through bpf_task_pt_regs
// (5.15+, which needs the typed task: 5.11+), or before that where the helper
// finds them, task_pt_regs() of arch/{x86,arm64}/include/asm/processor.h: the
// top of the task's kernel stack (TOP_OF_KERNEL_STACK_PADDING is 0 on x86_64
// and arm64), whose size, THREAD_SIZE, user space knows.
static __always_inline s32 current_syscall(struct task_struct *task, bool typed)
{
#ifdef SYSCALL_REG
	if (cfg_syscall_from == SYSCALL_NONE)
		return -1;
	u32 flags = typed ? task->flags : BPF_CORE_READ(task, flags);
	if (flags & PF_KTHREAD)
		return -1;
	if (cfg_syscall_from == SYSCALL_PT_REGS) {
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
		return regs ? (s32)regs->SYSCALL_REG : -1;
	}
	void *stack = typed ? task->stack : BPF_CORE_READ(task, stack);
	if (!stack)
		return -1;
	struct pt_regs *regs = (struct pt_regs *)((char *)stack + cfg_thread_size -
						  bpf_core_type_size(struct pt_regs));
	return (s32)BPF_CORE_READ(regs, SYSCALL_REG);
#else
	return -1;
#endif
}

// exe_of fills key's executable: the inode of the task's mm->exe_file.
static __always_inline void exe_of(struct task_struct *task, bool typed, struct dedup_key *key)
{
	if (typed) {
		struct file *exe = task->mm ? task->mm->exe_file : NULL;
		if (exe) {
			key->exe_ino = exe->f_inode->i_ino;
			key->exe_dev = exe->f_inode->i_sb->s_dev;
		}
		return;
	}
	// A kernel thread has no mm: the chain reads 0 and stops there.
	struct inode *inode = BPF_CORE_READ(task, mm, exe_file, f_inode);
	if (inode) {
		key->exe_ino = BPF_CORE_READ(inode, i_ino);
		key->exe_dev = BPF_CORE_READ(inode, i_sb, s_dev);
	}
}

// classify_call_site tells audited checks from CAP_OPT_NOAUDIT ones on the
// tracepoint, which has no opts: it looks for a known NOAUDIT caller
// (cap_vm_enough_memory, ns_capable_noaudit, ...) among the return addresses
// on the kernel stack. User space resolves those functions from /proc/kallsyms.
// Costly (a stack walk), so it runs only for checks whose dedup key is new.
static __always_inline u8 classify_call_site(void *ctx)
{
	u64 stack[STACK_DEPTH];

	if (!cfg_noaudit_ranges)
		return AUDIT_UNKNOWN;
	long n = bpf_get_stack(ctx, stack, sizeof(stack), 0);
	if (n <= 0)
		return AUDIT_UNKNOWN;
	for (int i = 0; i < STACK_DEPTH; i++) {
		if (i * 8 >= n)
			break;
		u64 ip = stack[i];
		for (u32 j = 0; j < MAX_NOAUDIT_RANGES; j++) {
			if (j >= cfg_noaudit_ranges)
				break;
			if (ip >= noaudit_ranges[j].start && ip < noaudit_ranges[j].end)
				return noaudit_ranges[j].class;
		}
	}
	return AUDIT_YES;
}

// class_slot_of returns this CPU's slot of the direct-mapped cache of
// recent call-site classifications that key maps to.
static __always_inline struct class_slot *class_slot_of(struct dedup_key *key)
{
	u64 *k = (u64 *)key;
	u32 idx = (u32)((k[0] * 0x9E3779B97F4A7C15ULL ^ k[1] * 0xC2B2AE3D27D4EB4FULL ^
			 k[3] * 0x165667B19E3779F9ULL ^ k[4]) >> 40) & (CLASS_CACHE_SLOTS - 1);
	return bpf_map_lookup_elem(&class_cache, &idx);
}

// slot_holds reports whether slot caches key's classification. A zeroed
// slot matches no key: no cgroup has id 0.
static __always_inline bool slot_holds(struct class_slot *slot, struct dedup_key *key)
{
	u64 *k = (u64 *)key, *s = (u64 *)&slot->key;
	return s[0] == k[0] && s[1] == k[1] && s[2] == k[2] && s[3] == k[3] && s[4] == k[4];
}

static __always_inline void slot_fill(struct class_slot *slot, struct dedup_key *key, u8 audit)
{
	if (slot) {
		slot->key = *key;
		slot->audit = audit;
	}
}

// stream_audit_class classifies a stream-mode tracepoint check: first from
// this CPU's small direct-mapped cache of recent keys (an array lookup and
// a compare), then from the dedup map, which holds every key's
// classification, and only for a key new to both by walking the stack.
static __always_inline u8 stream_audit_class(void *ctx, struct dedup_key *key)
{
	struct class_slot *slot = class_slot_of(key);
	if (slot && slot_holds(slot, key))
		return slot->audit;

	u8 audit;
	struct dedup_value *v = bpf_map_lookup_elem(&dedup, key);
	if (v) {
		audit = v->audit;
	} else {
		audit = classify_call_site(ctx);
		struct dedup_value nv = { .count = 1, .first_ns = bpf_ktime_get_boot_ns(), .audit = audit };
		bpf_map_update_elem(&dedup, key, &nv, BPF_NOEXIST);
	}
	slot_fill(slot, key, audit);
	return audit;
}

// handle_check is the one check handler. btf says whether cred and ns are
// BTF pointers (tp_btf, fexit: read directly, cheapest) or plain addresses
// (raw_tracepoint, tracepoint, kprobe: read with CO-RE probe reads). It is a
// constant after inlining, so each program keeps only its own branch.
static __always_inline int handle_check(void *ctx, const struct cred *cred,
					 struct user_namespace *ns, int cap, int ret,
					 u8 audit, const bool btf)
{
	bool denied = ret != 0;

	if (cap < 0 || cap >= MAX_CAPS || !(cfg_caps & (1ULL << cap)))
		return 0;
	if ((cfg_verdict == VERDICT_DENIED && !denied) ||
	    (cfg_verdict == VERDICT_GRANTED && denied))
		return 0;

	const bool typed = cfg_task_btf;
	struct task_struct *task = current_task();
	u64 pid_tgid = bpf_get_current_pid_tgid();
	u32 tgid = pid_tgid >> 32;
	if (!task_selected(task, typed, tgid))
		return 0;
	if (outside_selection(task, typed))
		return count_skipped(&unselected_skipped, cap);
	// fexit and kprobe know from opts: drop before any other work.
	if (cfg_audited_only && audit == AUDIT_NO)
		return count_skipped(&noaudit_skipped, cap);

	struct dedup_key key = {
		.cgroup_id = bpf_get_current_cgroup_id(),
		.cap = cap,
		.denied = denied,
		.audit = audit, /* before classification: the key must not depend on it */
		.syscall = current_syscall(task, typed),
	};
	exe_of(task, typed, &key);
	key.ns_level = btf ? ns->level : BPF_CORE_READ(ns, level);

	bool new_key = false;
	u64 now = 0;
	if (cfg_mode == MODE_UNIQUE) {
		// On the tracepoint a NOAUDIT key is recognised from this CPU's
		// classification cache before the dedup map is touched; the map
		// keeps such a key with count 0, for its classification only.
		struct class_slot *slot = NULL;
		if (cfg_audited_only && audit == AUDIT_UNKNOWN) {
			slot = class_slot_of(&key);
			if (slot && slot_holds(slot, &key) && slot->audit == AUDIT_NO)
				return count_skipped(&noaudit_skipped, cap);
		}
		struct dedup_value *v = bpf_map_lookup_elem(&dedup, &key);
		if (!v) {
			if (audit == AUDIT_UNKNOWN)
				audit = classify_call_site(ctx);
			now = bpf_ktime_get_boot_ns();
			struct dedup_value nv = { .count = 1, .first_ns = now, .audit = audit };
			if (cfg_audited_only && audit == AUDIT_NO)
				nv.count = 0;
			if (bpf_map_update_elem(&dedup, &key, &nv, BPF_NOEXIST) == 0) {
				if (!nv.count) {
					slot_fill(slot, &key, AUDIT_NO);
					return count_skipped(&noaudit_skipped, cap);
				}
				new_key = true;
			} else {
				// Another CPU inserted the key meanwhile: count there.
				v = bpf_map_lookup_elem(&dedup, &key);
				if (!v)
					return 0;
			}
		}
		if (v) {
			if (cfg_audited_only && v->audit == AUDIT_NO) {
				slot_fill(slot, &key, AUDIT_NO);
				return count_skipped(&noaudit_skipped, cap);
			}
			__sync_fetch_and_add(&v->count, 1);
			return 0;
		}
	} else if (audit == AUDIT_UNKNOWN) {
		audit = stream_audit_class(ctx, &key);
		if (cfg_audited_only && audit == AUDIT_NO)
			return count_skipped(&noaudit_skipped, cap);
	}

	struct check_event *e = reserve(sizeof(*e), LOST_CHECKS);
	if (!e)
		return 0;
	e->type = EVENT_CHECK;
	e->cap = cap;
	e->denied = denied;
	e->audit = audit;
	e->new_key = new_key;
	e->key_audit = key.audit;
	e->pid = tgid;
	e->tid = (u32)pid_tgid;
	e->syscall = key.syscall;
	e->cgroup_id = key.cgroup_id;
	e->exe_ino = key.exe_ino;
	e->exe_dev = key.exe_dev;
	e->ns_level = key.ns_level;
	e->ns_is_host = key.ns_level == 0;
	e->time_ns = now ? now : bpf_ktime_get_boot_ns(); /* a new key's event carries its first_ns */
	if (typed) {
		e->foreign_cred = (const struct cred *)task->cred != cred;
		// Two loads through the BTF pointer, cheaper than bpf_get_current_comm;
		// a concurrent prctl(PR_SET_NAME) may tear it, as it may the helper's copy.
		__builtin_memcpy(e->comm, task->comm, TASK_COMM_LEN);
	} else {
		e->foreign_cred = (const struct cred *)BPF_CORE_READ(task, cred) != cred;
		bpf_get_current_comm(e->comm, TASK_COMM_LEN);
	}
	// With host processes excluded, task_selected already knows it is not.
	e->mnt_ns_is_host = cfg_include_host && in_host_mntns(task, typed);
	// kernel_cap_t is u64 since 6.3 and u32[2] before: the same 8 bytes.
	const struct cred___cap_u64 *cred64 = (const void *)cred;
	if (btf && bpf_core_field_exists(cred64->cap_effective.val))
		e->effective = cred64->cap_effective.val;
	else
		BPF_CORE_READ_INTO(&e->effective, cred, cap_effective);
	if (btf) {
		e->uid = cred->uid.val;
		e->euid = cred->euid.val;
		e->ns_inum = ns->ns.inum;
		e->ns_owner_uid = ns->owner.val;
		e->ns_owner_gid = ns->group.val;
	} else {
		e->uid = BPF_CORE_READ(cred, uid.val);
		e->euid = BPF_CORE_READ(cred, euid.val);
		e->ns_inum = BPF_CORE_READ(ns, ns.inum);
		e->ns_owner_uid = BPF_CORE_READ(ns, owner.val);
		e->ns_owner_gid = BPF_CORE_READ(ns, group.val);
	}
	bpf_ringbuf_submit(e, submit_flags(sizeof(*e)));
	return 0;
}

SEC("tp_btf/cap_capable")
int BPF_PROG(tp_btf_cap_capable, const struct cred *cred, struct user_namespace *targ_ns,
	     const struct user_namespace *capable_ns, int cap, int ret)
{
	return handle_check(ctx, cred, targ_ns, cap, ret, AUDIT_UNKNOWN, true);
}

SEC("raw_tracepoint/cap_capable")
int raw_tp_cap_capable(struct bpf_raw_tracepoint_args *ctx)
{
	return handle_check(ctx, (const struct cred *)ctx->args[0],
			    (struct user_namespace *)ctx->args[1], (int)ctx->args[3],
			    (int)ctx->args[4], AUDIT_UNKNOWN, false);
}

SEC("tracepoint/capability/cap_capable")
int tp_cap_capable(struct trace_event_raw_cap_capable *ctx)
{
	return handle_check(ctx, ctx->cred, ctx->target_ns, ctx->cap, ctx->ret,
			    AUDIT_UNKNOWN, false);
}

static __always_inline u8 audit_of_opts(unsigned int opts)
{
	return (opts & CAP_OPT_NOAUDIT) ? AUDIT_NO : AUDIT_YES;
}

// int cap_capable(const struct cred *cred, struct user_namespace *targ_ns,
//                 int cap, unsigned int opts)   -- security/commoncap.c, 5.1+
SEC("fexit/cap_capable")
int BPF_PROG(fexit_cap_capable, const struct cred *cred, struct user_namespace *targ_ns,
	     int cap, unsigned int opts, int ret)
{
	return handle_check(ctx, cred, targ_ns, cap, ret, audit_of_opts(opts), true);
}

SEC("kprobe/cap_capable")
int BPF_KPROBE(kprobe_cap_capable, const struct cred *cred, struct user_namespace *targ_ns,
	       int cap, unsigned int opts)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct kprobe_args a = { .cred = (u64)cred, .ns = (u64)targ_ns, .cap = cap, .opts = opts };
	bpf_map_update_elem(&kprobe_inflight, &tid, &a, BPF_ANY);
	return 0;
}

SEC("kretprobe/cap_capable")
int BPF_KRETPROBE(kretprobe_cap_capable, int ret)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct kprobe_args *a = bpf_map_lookup_elem(&kprobe_inflight, &tid);
	if (!a)
		return 0;
	struct kprobe_args args = *a;
	bpf_map_delete_elem(&kprobe_inflight, &tid);
	return handle_check(ctx, (const struct cred *)args.cred, (struct user_namespace *)args.ns,
			    args.cap, ret, audit_of_opts(args.opts), false);
}

// Process events. tp_btf on these tracepoints works on every kernel with BTF
// (5.5+), so all attach methods share them.

// task_context_of reads what task runs in (a task at exec or fork, which
// has its nsproxy): the nsproxy's namespaces as /proc/PID/ns/ shows them
// (proc_ns_operations in fs/proc/namespaces.c), the pid namespace the
// task's pid lives in (task_active_pid_ns), the credentials' user
// namespace, the audit login uid and the pid in its pid namespace.
static __always_inline void task_context_of(struct task_struct *task, struct task_context *ctx)
{
	__builtin_memset(ctx, 0, sizeof(*ctx));
	struct nsproxy *nsp = task->nsproxy;
	if (nsp) {
		ctx->ns[NS_UTS] = nsp->uts_ns->ns.inum;
		ctx->ns[NS_IPC] = nsp->ipc_ns->ns.inum;
		ctx->ns[NS_MNT] = nsp->mnt_ns->ns.inum;
		ctx->ns[NS_PID_FOR_CHILDREN] = nsp->pid_ns_for_children->ns.inum;
		ctx->ns[NS_NET] = nsp->net_ns->ns.inum;
		ctx->ns[NS_CGROUP] = nsp->cgroup_ns->ns.inum;
		// Time namespaces came in 5.6 (commit 769071ac9f20).
		if (bpf_core_field_exists(nsp->time_ns)) {
			ctx->ns[NS_TIME] = nsp->time_ns->ns.inum;
			ctx->ns[NS_TIME_FOR_CHILDREN] = nsp->time_ns_for_children->ns.inum;
		}
	}
	ctx->ns[NS_USER] = task->cred->user_ns->ns.inum;
	// loginuid exists with CONFIG_AUDIT; without it no process has one.
	ctx->loginuid = (u32)-1;
	if (bpf_core_field_exists(task->loginuid))
		ctx->loginuid = task->loginuid.val;
	// pid->numbers[pid->level] is the pid in its own namespace. The index
	// is variable, which a typed pointer does not take: read by address.
	u64 pid = (u64)BPF_CORE_READ(task, thread_pid);
	if (pid) {
		u32 level = BPF_CORE_READ((struct pid *)pid, level);
		struct upid up = {};
		u64 at = pid + bpf_core_field_offset(struct pid, numbers) +
			 (u64)level * bpf_core_type_size(struct upid);
		if (bpf_probe_read_kernel(&up, sizeof(up), (void *)at) == 0) {
			ctx->vpid = up.nr;
			ctx->ns[NS_PID] = BPF_CORE_READ(up.ns, ns.inum);
		}
	}
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	u32 tgid = p->tgid;
	if (!task_selected(p, true, tgid) || outside_selection(p, true))
		return 0;
	struct exec_event *e = reserve(sizeof(*e), LOST_PROCESS_EVENTS);
	if (!e)
		return 0;
	e->type = EVENT_EXEC;
	e->pid = tgid;
	e->ppid = p->real_parent->tgid;
	e->uid = p->cred->uid.val;
	e->euid = p->cred->euid.val;
	e->start_ns = p->start_boottime;
	e->time_ns = bpf_ktime_get_boot_ns();
	task_context_of(p, &e->ctx);
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), bprm->filename);

	// The new image's argv sits in its user stack; read it while it exists.
	unsigned long start = p->mm->arg_start, end = p->mm->arg_end;
	u64 len = end - start;
	if (len > MAX_ARGS)
		len = MAX_ARGS;
	e->args_len = 0;
	if (len > 0 && bpf_probe_read_user(e->args, len, (void *)start) == 0)
		e->args_len = len;
	bpf_ringbuf_submit(e, submit_flags(sizeof(*e)));
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	// Threads are not processes: only a new thread group counts.
	if (child->pid != child->tgid)
		return 0;
	u32 parent_tgid = parent->tgid, child_tgid = child->tgid;
	if (cfg_pid_filter && bpf_map_lookup_elem(&tracked_pids, &parent_tgid)) {
		u8 one = 1;
		bpf_map_update_elem(&tracked_pids, &child_tgid, &one, BPF_ANY);
	}
	if (!task_selected(parent, true, parent_tgid) || outside_selection(parent, true))
		return 0;
	struct fork_event *e = reserve(sizeof(*e), LOST_PROCESS_EVENTS);
	if (!e)
		return 0;
	e->type = EVENT_FORK;
	e->parent_pid = parent_tgid;
	e->child_pid = child_tgid;
	e->start_ns = child->start_boottime;
	task_context_of(child, &e->ctx);
	bpf_ringbuf_submit(e, submit_flags(sizeof(*e)));
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *p)
{
	// Only the thread group's end matters; other threads exiting do not.
	if (p->pid != p->tgid)
		return 0;
	// Nor a leader that ends because another of its threads execs
	// (de_thread): that thread takes the pid over and the process goes on.
	// Linux 5.17+ names it in group_exec_task; older kernels report an exit.
	if (bpf_core_field_exists(p->signal->group_exec_task) && p->signal->group_exec_task)
		return 0;
	u32 tgid = p->tgid;
	bool selected = task_selected(p, true, tgid) && !outside_selection(p, true);
	if (cfg_pid_filter)
		bpf_map_delete_elem(&tracked_pids, &tgid);
	if (!selected)
		return 0;
	struct exit_event *e = reserve(sizeof(*e), LOST_PROCESS_EVENTS);
	if (!e)
		return 0;
	e->type = EVENT_EXIT;
	e->pid = tgid;
	e->time_ns = bpf_ktime_get_boot_ns();
	// do_exit() set it before this tracepoint; an exit_group() or a fatal
	// signal gives every thread the group's code.
	e->exit_code = p->exit_code;
	e->_pad2 = 0;
	bpf_ringbuf_submit(e, submit_flags(sizeof(*e)));
	return 0;
}

// Cgroup creation. TP_PROTO(struct cgroup *cgrp, const char *path) in
// include/trace/events/cgroup.h; the kernel fills path (cgroup_path(), from
// the hierarchy's root) only while a probe is attached. tp_btf needs the
// tracepoint's BTF (5.5+); user space skips this program where the kernel
// lacks it. No task filter applies: the runtime creates a container's
// cgroup from the host, before any of the container's processes run in it.
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	// Only the cgroup2 hierarchy's ids are what bpf_get_current_cgroup_id
	// returns; its hierarchy id is 0 (the "0::" line of /proc/PID/cgroup),
	// cgroup1 hierarchies count from 1.
	if (cgrp->root->hierarchy_id != 0)
		return 0;
	struct cgroup_event *e = reserve(sizeof(*e), LOST_PROCESS_EVENTS);
	if (!e)
		return 0;
	e->type = EVENT_CGROUP_MKDIR;
	e->cgroup_id = cgrp->kn->id;
	// A path that filled the buffer may be cut short: an empty path tells
	// user space to find this cgroup in the file system instead.
	long n = bpf_probe_read_kernel_str(e->path, sizeof(e->path), path);
	if (n <= 0 || n >= (long)sizeof(e->path))
		e->path[0] = 0;
	bpf_ringbuf_submit(e, submit_flags(sizeof(*e)));
	return 0;
}
