package proc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const (
	// clockTicksPerSecond is USER_HZ, the unit of starttime in
	// /proc/<pid>/stat. It is fixed by the kernel ABI (not CONFIG_HZ) and is
	// 100 on every architecture Go supports on Linux, so there is no need to
	// ask sysconf(_SC_CLK_TCK), which would require cgo.
	clockTicksPerSecond = 100
	nsPerTick           = 1_000_000_000 / clockTicksPerSecond

	// deletedSuffix is appended by the kernel to the exe link when the
	// binary was replaced or removed, typically by a package upgrade under a
	// long-running daemon. The path it was started from is what users know.
	deletedSuffix = " (deleted)"
)

// procEntry is what one /proc/<pid> directory says about a process.
type procEntry struct {
	pid, ppid  uint32
	startTicks uint64 // starttime, in clock ticks since boot
	zombie     bool
	exe        string
	args       []string
	cwd        string
	uid, euid  uint32
	vpid       uint32
	loginUID   uint32
	ns         Namespaces
}

// startBootNS converts the tick-resolution start time to the nanosecond
// boot-time scale the eBPF events use.
func (p procEntry) startBootNS() uint64 {
	return p.startTicks * nsPerTick
}

// readProcess reads /proc/<pid> under root. Errors for which isVanished is
// true mean the process exited while (or before) it was read.
func readProcess(root string, pid uint32) (procEntry, error) {
	dir := filepath.Join(root, strconv.FormatUint(uint64(pid), 10))
	p := procEntry{pid: pid}

	// stat first: it is the one file every process, kernel threads and
	// zombies included, has, and it tells which of those this is.
	data, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return procEntry{}, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	st, err := parseStat(data)
	if err != nil {
		return procEntry{}, fmt.Errorf("parse stat of pid %d: %w", pid, err)
	}
	p.ppid, p.startTicks, p.zombie = st.ppid, st.startTicks, st.zombie

	data, err = os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return procEntry{}, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	status, err := parseStatus(data)
	if err != nil {
		return procEntry{}, fmt.Errorf("parse status of pid %d: %w", pid, err)
	}
	// /proc/<tid> of a non-leader thread is reachable even though readdir
	// hides it. Caching it would create a "process" keyed by a thread id.
	if status.tgid != 0 && status.tgid != pid {
		return procEntry{}, fmt.Errorf("pid %d is a thread of process %d", pid, status.tgid)
	}
	p.uid, p.euid, p.vpid = status.uid, status.euid, status.vpid

	p.args, err = readCmdline(filepath.Join(dir, "cmdline"))
	if err != nil {
		return procEntry{}, fmt.Errorf("read cmdline of pid %d: %w", pid, err)
	}

	// The links fail for kernel threads and zombies (ENOENT) and, without
	// CAP_SYS_PTRACE, for other users' processes (EACCES). Neither is a
	// reason to drop the process, so their errors are not returned.
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		p.exe = strings.TrimSuffix(exe, deletedSuffix)
	} else if len(p.args) > 0 {
		p.exe = p.args[0]
	}
	p.cwd, _ = os.Readlink(filepath.Join(dir, "cwd"))
	p.ns = readNamespaces(root, strconv.FormatUint(uint64(pid), 10))
	p.loginUID = readLoginUID(filepath.Join(dir, "loginuid"))
	return p, nil
}

// readLoginUID reads a loginuid file. A kernel without CONFIG_AUDIT has
// none, and no process there has a login uid.
func readLoginUID(path string) uint32 {
	data, err := os.ReadFile(path)
	if err != nil {
		return UnsetLoginUID
	}
	uid, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 32)
	if err != nil {
		return UnsetLoginUID
	}
	return uint32(uid)
}

// isVanished reports whether err means the process went away: ENOENT when
// its directory is gone, ESRCH when it died between open and read.
func isVanished(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}

// readlinkProc reads a link such as exe or cwd of one process, best effort.
func readlinkProc(root string, pid uint32, name string) string {
	target, err := os.Readlink(filepath.Join(root, strconv.FormatUint(uint64(pid), 10), name))
	if err != nil {
		return ""
	}
	return target
}

type statFields struct {
	ppid       uint32
	startTicks uint64
	zombie     bool
}

// parseStat parses /proc/<pid>/stat. The second field, comm, is in
// parentheses and may itself contain spaces and ')' (a process can name
// itself anything), so the fixed fields are found after the LAST ')'.
func parseStat(data []byte) (statFields, error) {
	end := bytes.LastIndexByte(data, ')')
	if end < 0 || bytes.IndexByte(data[:end], '(') < 0 {
		return statFields{}, errors.New("no command name in parentheses")
	}
	// fields[0] is field 3 of proc(5), so field n is fields[n-3].
	fields := strings.Fields(string(data[end+1:]))
	const (
		stateIdx     = 3 - 3
		ppidIdx      = 4 - 3
		startTimeIdx = 22 - 3
	)
	if len(fields) <= startTimeIdx {
		return statFields{}, fmt.Errorf("want at least %d fields after the command name, got %d", startTimeIdx+1, len(fields))
	}
	ppid, err := strconv.ParseUint(fields[ppidIdx], 10, 32)
	if err != nil {
		return statFields{}, fmt.Errorf("parse ppid: %w", err)
	}
	start, err := strconv.ParseUint(fields[startTimeIdx], 10, 64)
	if err != nil {
		return statFields{}, fmt.Errorf("parse starttime: %w", err)
	}
	state := fields[stateIdx]
	return statFields{
		ppid:       uint32(ppid),
		startTicks: start,
		// X (dead) is only visible for an instant, but is as gone as Z.
		zombie: state == "Z" || state == "X",
	}, nil
}

type statusFields struct {
	tgid, uid, euid, vpid uint32
}

// parseStatus extracts the thread group id, the real and effective uids
// ("Uid:\treal\teffective\tsaved\tfs") and the pid in the process's own
// pid namespace (the last of "NSpid:\thost\t...\tinnermost", Linux 4.1+)
// from /proc/<pid>/status.
func parseStatus(data []byte) (statusFields, error) {
	var s statusFields
	var sawUID bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch key {
		case "Tgid":
			v, err := strconv.ParseUint(strings.TrimSpace(value), 10, 32)
			if err != nil {
				return statusFields{}, fmt.Errorf("parse Tgid: %w", err)
			}
			s.tgid = uint32(v)
		case "NSpid":
			f := strings.Fields(value)
			if len(f) == 0 {
				continue
			}
			v, err := strconv.ParseUint(f[len(f)-1], 10, 32)
			if err != nil {
				return statusFields{}, fmt.Errorf("parse NSpid: %w", err)
			}
			s.vpid = uint32(v)
		case "Uid":
			f := strings.Fields(value)
			if len(f) < 2 {
				return statusFields{}, fmt.Errorf("want at least 2 uids, got %q", value)
			}
			ruid, err := strconv.ParseUint(f[0], 10, 32)
			if err != nil {
				return statusFields{}, fmt.Errorf("parse real uid: %w", err)
			}
			euid, err := strconv.ParseUint(f[1], 10, 32)
			if err != nil {
				return statusFields{}, fmt.Errorf("parse effective uid: %w", err)
			}
			s.uid, s.euid, sawUID = uint32(ruid), uint32(euid), true
		}
	}
	if err := sc.Err(); err != nil {
		return statusFields{}, fmt.Errorf("scan status: %w", err)
	}
	if !sawUID {
		return statusFields{}, errors.New("no Uid line")
	}
	return s, nil
}

// readCmdline reads at most maxArgsBytes of a cmdline file: argv can be
// megabytes, and only that much is kept anyway.
func readCmdline(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxArgsBytes))
	if err != nil {
		return nil, err
	}
	return splitCmdline(data), nil
}

// splitCmdline splits NUL-terminated arguments. Kernel threads have an empty
// cmdline, which yields nil.
func splitCmdline(data []byte) []string {
	data = bytes.TrimSuffix(data, []byte{0})
	if len(data) == 0 {
		return nil
	}
	parts := bytes.Split(data, []byte{0})
	args := make([]string, len(parts))
	for i, p := range parts {
		args[i] = string(p)
	}
	return capArgs(args)
}
