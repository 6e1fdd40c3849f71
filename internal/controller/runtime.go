package controller

import (
	"path"
	"strings"

	"github.com/capprof/capprof/internal/proc"
)

// isRuntimeSetup reports whether a check of a container's process was made
// by its OCI runtime setting the container up rather than by the
// container's program. comm is the checking thread's name as the kernel
// read it at check time (the check record carries it); p is what the
// process cache knows of the process.
//
// comm decides alone when it names a runtime stage, whatever the filters
// let the cache see: runc's nsexec renames runc init's three processes
// runc:[0:PARENT], runc:[1:CHILD] and runc:[2:INIT] (for `runc exec` too),
// and crun and youki set the container up under their own names (youki's
// stages are youki:[1:INTER] and youki:[2:INIT]). The exec of the
// entrypoint renames the thread, and with it ends the mark. This holds
// when the runtime's exec event was dropped: runc init is exec'd in the
// host's mount namespace and in the shim's cgroup, so with host processes
// excluded, or cgroup filters that leave the shim out, the kernel drops
// that exec, then runc init joins the container and its checks pass the
// filters with a pid the cache knows only from /proc.
//
// The cache covers what comm cannot tell: runc init before nsexec renames
// it (its comm is then the basename of whatever path re-executed runc),
// known by its argv "runc init" when that exec was recorded or /proc still
// shows it. A container whose own program is crun or youki (a nested
// runtime) has its checks marked too.
func isRuntimeSetup(comm string, p *proc.Info) bool {
	if isRuntimeName(comm) {
		return true
	}
	argv0 := ""
	if len(p.Args) > 0 {
		argv0 = path.Base(p.Args[0])
	}
	for _, name := range [...]string{argv0, path.Base(p.ExecutablePath)} {
		if name == "runc" {
			return len(p.Args) > 1 && p.Args[1] == "init"
		}
		if isRuntimeName(name) {
			return true
		}
	}
	return false
}

// isRuntimeName reports whether a process name (comm, or argv[0] set to
// it) is a container runtime's setup stage.
func isRuntimeName(name string) bool {
	return strings.HasPrefix(name, "runc:[") || strings.HasPrefix(name, "youki:[") ||
		name == "crun" || name == "youki"
}
