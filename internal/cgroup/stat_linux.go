package cgroup

import (
	"io/fs"
	"syscall"
)

// statIDs returns the device and inode number of a file. The conversions
// are no-ops on most architectures but not all (st_dev is 32 bits on mips).
func statIDs(fi fs.FileInfo) (dev, ino uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return uint64(st.Dev), uint64(st.Ino), true //nolint:unconvert // see above
}
