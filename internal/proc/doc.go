// Package proc keeps the process cache that capprof uses to attribute each
// capability check to the process that made it.
//
// The cache is fed by the exec, fork and exit events that the eBPF program
// emits from the sched_process_exec, sched_process_fork and
// sched_process_exit tracepoints. Those events travel through the same ring
// buffer as the checks, so by the time a check is handled the cache already
// reflects every exec, fork and exit that happened before it.
//
// The events also carry what the process runs in (its namespaces, audit
// login uid and pid in its pid namespace), read in the kernel while the
// process exists; Scan and lookups read the same from /proc. The cache
// keeps it, with how it learned the process and the parent's details, in
// one Context per process that every Info for it shares: a check carries a
// pointer, not a copy.
//
// Processes that were running before capprof started are seeded with Scan,
// which reads /proc once. Attach the tracepoints before calling Scan and
// handle the queued events after it: a process that starts or exits while
// Scan runs is then either seen by Scan or reported by an event, and events
// always win over what Scan found.
//
// Exited processes are kept for Options.ExitedTTL so that late lookups still
// resolve, and the cache never grows beyond Options.MaxEntries. Eviction is
// lazy (done inside the public methods), so the cache owns no goroutines and
// needs no Close.
//
// The event handlers are meant to be called from a single goroutine (the
// ring-buffer reader); Lookup and Stats may be called concurrently from
// others.
package proc
