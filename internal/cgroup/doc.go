// Package cgroup turns the cgroup v2 ids that capprof's eBPF programs record
// into cgroup paths and the containers those paths belong to.
//
// bpf_get_current_cgroup_id() returns the id of the task's cgroup in the
// unified (v2) hierarchy, which on 64-bit kernels is the inode number of that
// cgroup's directory in the cgroup2 filesystem. That holds on pure v2 hosts,
// where cgroup2 is usually mounted at /sys/fs/cgroup, and on hybrid hosts,
// where it usually sits at /sys/fs/cgroup/unified next to the v1
// controllers. A [Resolver] therefore finds the cgroup2 mount in
// /proc/self/mountinfo rather than assuming a location, and maps ids back to
// paths by matching directory inodes, caching what it learns so that the
// per-event cost is a map lookup.
//
// [ParsePath] is independent of the Resolver: it recognises the cgroup
// layouts of containerd, CRI-O, Docker and Podman, under both the cgroupfs
// and the systemd cgroup drivers, with or without Kubernetes.
package cgroup
