package controller

import (
	"path"
	"strings"

	"github.com/capprof/capprof/internal/proc"
)

// isRuntimeSetup reports whether a container's process is its OCI runtime
// setting the container up rather than the container's program: runc's
// "runc init" (re-executed as /proc/self/exe, or a sealed memfd copy of
// runc, with argv "runc init"; its clones keep that argv and rename their
// comm to runc:[1:CHILD]/runc:[2:INIT]), or crun and youki, which set the
// container up in the runtime's own process. The container's first exec of
// its entrypoint replaces that program, and with it the mark.
//
// The mark is exact when the runtime's exec was recorded: runc init is
// exec'd in the host's mount namespace and in the shim's cgroup, so with
// host processes excluded (or cgroup filters that leave the shim out) the
// kernel drops that exec event, and the process is then known only from
// /proc, which names runc init only while it still runs.
func isRuntimeSetup(p *proc.Info) bool {
	argv0 := ""
	if len(p.Args) > 0 {
		argv0 = path.Base(p.Args[0])
	}
	for _, name := range [...]string{argv0, path.Base(p.ExecutablePath)} {
		switch {
		case strings.HasPrefix(name, "runc:"):
			return true
		case name == "runc":
			return len(p.Args) > 1 && p.Args[1] == "init"
		case name == "crun" || name == "youki":
			return true
		}
	}
	return false
}
