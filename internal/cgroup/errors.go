package cgroup

import "errors"

var (
	// ErrNotFound means no cgroup with the requested id or path exists, which
	// for an id seen in an event usually means the cgroup has been removed
	// since. Test for it with errors.Is.
	ErrNotFound = errors.New("cgroup not found")

	// ErrNoCgroup2Mount means /proc/self/mountinfo lists no cgroup2 file
	// system, so cgroup v2 ids cannot be resolved on this host.
	ErrNoCgroup2Mount = errors.New("no cgroup2 mount found")
)
