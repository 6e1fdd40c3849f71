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
	ExecID               string
	ParentExecID         string
	ParentExecutablePath string
	Exited               bool
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
