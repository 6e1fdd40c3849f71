package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// errNoCgroupEntry means a /proc/PID/cgroup file has neither a v2 line nor a
// name=systemd line.
var errNoCgroupEntry = errors.New("no cgroup v2 or name=systemd entry")

// deletedSuffix is appended by the kernel to the v2 path of a task whose
// cgroup has been removed (a zombie's, for example).
const deletedSuffix = " (deleted)"

// PathOfPID reads the v2 path ("0::/..." line) of /proc/PID/cgroup; on
// hybrid hosts the "0::" line exists too. Falls back to the name=systemd v1
// line when there is no "0::" line. procRoot "" means "/proc".
//
// Paths are relative to the cgroup namespace of the reading process, which
// is what Resolver paths are relative to as long as the cgroup2 mount was
// made in that namespace. A " (deleted)" marker is removed; the cgroup is
// gone and Resolver.ID reports ErrNotFound for it.
func PathOfPID(procRoot string, pid int) (string, error) {
	if pid <= 0 {
		return "", fmt.Errorf("invalid pid %d", pid)
	}
	if procRoot == "" {
		procRoot = "/proc"
	}
	name := filepath.Join(procRoot, strconv.Itoa(pid), "cgroup")
	data, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("read cgroup of pid %d: %w", pid, err)
	}
	p, err := parseProcCgroup(string(data))
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// parseProcCgroup picks the path out of the contents of a /proc/PID/cgroup
// file, whose lines read "hierarchy-id:controller-list:path".
func parseProcCgroup(data string) (string, error) {
	var systemd string
	haveSystemd := false
	for line := range strings.Lines(data) {
		line = strings.TrimSuffix(line, "\n")
		hierarchy, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		// The path is last and may itself contain ':'.
		controllers, p, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		if hierarchy == "0" && controllers == "" {
			return strings.TrimSuffix(p, deletedSuffix), nil
		}
		if !haveSystemd && slices.Contains(strings.Split(controllers, ","), "name=systemd") {
			systemd, haveSystemd = p, true
		}
	}
	if haveSystemd {
		return systemd, nil
	}
	return "", errNoCgroupEntry
}
