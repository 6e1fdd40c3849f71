#!/usr/bin/env bash
# Prepares this machine for capprof's tests and says what it did: the Debian
# packages they run, the kernel file systems they read (tracefs for the
# tracepoint attach method and bpftrace, bpffs for doctor), a cgroup2 mount,
# and dmesg_restrict=1 (the tests' denied CAP_SYSLOG check). A step already
# done is only reported. Needs root. Usage: test/prepare-host.sh [PACKAGE...]
set -euo pipefail

say() { echo "prepare-host: $*"; }
[ "$(id -u)" = 0 ] || { say "needs root (run the tests with sudo)"; exit 1; }

"$(dirname "$0")/install-debs.sh" "$@"

mountfs() { # type mountpoint
	if mountpoint -q "$2"; then
		say "$1 at $2: mounted"
	else
		mount -t "$1" "$1" "$2"
		say "$1 at $2: mounted it"
	fi
}
mountfs tracefs /sys/kernel/tracing
mountfs bpf /sys/fs/bpf

# cgroup2: at /sys/fs/cgroup (unified layout) or beside the v1 hierarchies
# (hybrid layout, usually /sys/fs/cgroup/unified). A host with v1 only gets
# the hybrid layout's mount.
cg2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
if [ -z "$cg2" ]; then
	mkdir -p /sys/fs/cgroup/unified
	mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
	cg2=/sys/fs/cgroup/unified
	say "cgroup2: none was mounted; mounted it at $cg2"
fi
if [ "$cg2" = /sys/fs/cgroup ]; then
	say "cgroup2 at $cg2 (unified layout)"
else
	say "cgroup2 at $cg2 (hybrid layout, v1 hierarchies beside it)"
fi

if [ "$(cat /proc/sys/kernel/dmesg_restrict)" != 1 ]; then
	echo 1 >/proc/sys/kernel/dmesg_restrict
	say "kernel.dmesg_restrict: set it to 1"
fi
