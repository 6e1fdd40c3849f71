package proc

import (
	"encoding/base64"
	"strconv"
	"time"
)

// Info is what capprof knows about one process (a thread group).
type Info struct {
	PID, PPID uint32
	// ExecutablePath is the absolute path of the executable
	// ("/usr/bin/dmesg"), or "" for kernel threads and when it is unknown.
	ExecutablePath   string
	Args             []string // argv, capped at maxArgsBytes
	WorkingDirectory string
	// UID and EUID are the real and effective uid at exec (or at scan).
	UID, EUID uint32
	// StartTime is the wall-clock start time of the process (fork time).
	StartTime time.Time
	// ExecID is stable and unique per (node, exec); see execID.
	ExecID string
	// The parent's, as the cache knew it when it learned the process; ""
	// when the parent was unknown.
	ParentExecID         string
	ParentExecutablePath string
	// Context is the rest of what the cache learned of the process, nil
	// when it is unknown. One value per process, shared by every Info the
	// cache hands out for it: never modify it. A pointer keeps Info, which
	// every check carries, as small as it was.
	Context *Context
	Exited  bool
}

// Context is what a process runs in, how the cache learned it, and its
// parent's details.
type Context struct {
	// Namespaces are the process's namespaces; HostNamespaces the kinds in
	// which it shares the host's (pid 1's).
	Namespaces     Namespaces
	HostNamespaces NamespaceSet
	// LoginUID is the audit login uid (/proc/PID/loginuid) at exec,
	// UnsetLoginUID when no login set it.
	LoginUID uint32
	// VPID is the pid in the process's own pid namespace (the last NSpid
	// of /proc/PID/status); 0 when unknown.
	VPID uint32
	// PIDNamespaceStart is the start time of the first process (pid 1) of
	// the process's pid namespace, when that is not the host's: a
	// container's start. Zero when unknown.
	PIDNamespaceStart time.Time
	// Flags say how the cache learned the process.
	Flags Flags
	// Parent is zero when the parent was unknown (Info.ParentExecID "").
	Parent Parent
}

// Parent is what the cache knew of a process's parent when it learned
// the process, beyond its exec id and executable (in Info).
type Parent struct {
	Args                []string // shared with the parent's Info: never modify it
	WorkingDirectory    string
	UID, EUID, LoginUID uint32
	StartTime           time.Time
	Flags               Flags
}

// UnsetLoginUID is the login uid of a process no login set one for
// ((uid_t)-1, AUDIT_UID_UNSET).
const UnsetLoginUID = ^uint32(0)

// TaskContext is what the kernel reports of a process at exec and fork
// beyond its identity: its namespaces, login uid and pid in its pid
// namespace.
type TaskContext struct {
	Namespaces Namespaces
	LoginUID   uint32
	VPID       uint32
}

// context starts the Context of a process learned from an event.
func (t TaskContext) context(f Flags) *Context {
	return &Context{Namespaces: t.Namespaces, LoginUID: t.LoginUID, VPID: t.VPID, Flags: f}
}

// Flags say how the cache learned a process.
type Flags uint8

const (
	FlagExec   Flags = 1 << iota // from its exec event
	FlagClone                    // from its fork event, the rest inherited from its parent
	FlagProcFS                   // read from /proc: by the start-up scan, or on a lookup that missed
)

var flagNames = [...]string{"exec", "clone", "procfs"}

// ParseFlag is the flag a name of Names stands for; 0 for any other.
func ParseFlag(name string) Flags {
	for i, n := range flagNames {
		if n == name {
			return 1 << i
		}
	}
	return 0
}

// Names lists the flags set ("exec"), in a fixed order.
func (f Flags) Names() []string {
	var names []string
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return names
}

// execID builds the identifier of one program run: a pid is reused and an
// exec replaces the program in the same pid, so the pid alone is not enough,
// but pid plus a boot-time timestamp is unique on a node, and the node name
// makes it unique across a fleet. It is base64 encoded so that consumers
// treat it as opaque rather than parsing it.
//
// Every ExecID in this package must come from here so that ids computed at
// different places (events, Scan, Lookup) agree.
func execID(node string, bootNS uint64, pid uint32) string {
	b := make([]byte, 0, len(node)+32)
	b = append(b, node...)
	b = append(b, ':')
	b = strconv.AppendUint(b, bootNS, 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(pid), 10)
	return base64.RawStdEncoding.EncodeToString(b)
}
