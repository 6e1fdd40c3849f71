#!/usr/bin/env bash
# Runs a command in a private mount namespace that has the cgroup layout this
# host does not have, so that the tests cover both layouts machines of this
# kind come with: cgroup2 at /sys/fs/cgroup (unified) and cgroup2 at
# /sys/fs/cgroup/unified beside v1 hierarchies (hybrid). Both mounts are of
# the one cgroup2 hierarchy: cgroup ids and paths are those of the host. The
# host's mounts below /sys/fs/cgroup are unmounted in the namespace, not only
# hidden, so that mountinfo lists the new layout alone.
# Needs root. Usage: test/other-cgroup-layout.sh COMMAND [ARG...]
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }

cg2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$cg2" ] || { echo "other-cgroup-layout: no cgroup2 mount (run test/prepare-host.sh)" >&2; exit 1; }
if [ "$cg2" = /sys/fs/cgroup ]; then
	layout=hybrid
	setup='umount -R /sys/fs/cgroup && mount -t tmpfs cgroup /sys/fs/cgroup && mkdir /sys/fs/cgroup/unified /sys/fs/cgroup/systemd &&
		mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified &&
		mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd'
else
	layout=unified
	setup='umount -R /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup'
fi
echo "other-cgroup-layout: running $1 with the $layout layout (this host's cgroup2 is at $cg2)"
exec unshare --mount --propagation private sh -c "$setup"' && exec "$@"' sh "$@"
