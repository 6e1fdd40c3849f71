package controller

import "bytes"

// isRuntimeSetup reports whether a check in a container's cgroup was made
// by the container's OCI runtime setting the container up rather than by
// the container's program. It decides from what the kernel read at check
// time, so the answer does not depend on which process events the filters
// let through (runc init is exec'd in the host's mount namespace and in the
// shim's cgroup: with host processes excluded, or cgroup filters that leave
// the shim out, that exec is dropped and the process cache cannot name it).
//
// comm is the checking thread's name: runc's nsexec renames runc init's
// three processes runc:[0:PARENT], runc:[1:CHILD] and runc:[2:INIT] (for
// `runc exec` too), youki its stages youki:[1:INTER] and youki:[2:INIT],
// and crun keeps its own name, or "memfd:crun_clon" when it re-executed a
// memfd copy of itself (Linux 6.14+ names a process exec'd from a file
// descriptor after the file). The exec of the entrypoint renames the thread
// once it passes the point of no return, and with it ends the mark: checks
// made after that, loading the new image, are the entrypoint's.
//
// hostMountNS says the thread was in the host's mount namespace. A
// container's own processes run in the container's; a process in the
// container's cgroup but in the host's mount namespace is the runtime's:
// runc init before nsexec renames it, runc:[0:PARENT], which never leaves it.
//
// Not told apart: a container whose own program is crun or youki (a nested
// runtime) is marked; crun re-executed from a memfd on kernels before 6.14
// is named after the descriptor's number and is not.
func isRuntimeSetup(comm []byte, hostMountNS bool) bool {
	if hostMountNS {
		return true
	}
	switch string(comm) { // compared without a copy
	case "crun", "memfd:crun_clon", "youki":
		return true
	}
	return bytes.HasPrefix(comm, []byte("runc:[")) || bytes.HasPrefix(comm, []byte("youki:["))
}
