package cgroup

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

const mountInfoPath = "/proc/self/mountinfo"

// findCgroup2Mount returns the mount point of the cgroup2 file system listed
// in the mountinfo file at name.
func findCgroup2Mount(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("find cgroup2 mount: %w", err)
	}
	defer f.Close()
	point, err := parseCgroup2Mount(f)
	if err != nil {
		return "", fmt.Errorf("find cgroup2 mount in %s: %w", name, err)
	}
	return point, nil
}

// parseCgroup2Mount reads mountinfo (proc(5)) and returns the mount point of
// the first cgroup2 mount of the whole hierarchy. A mount of a subtree (root
// field other than "/", as seen in some containers) is used only when there
// is nothing better, because paths under it do not match /proc/PID/cgroup.
func parseCgroup2Mount(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	// Overlay mounts with many layers produce lines far beyond the default
	// 64 KiB token limit.
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	var subtree string
	for sc.Scan() {
		root, point, fstype, ok := parseMountInfoLine(sc.Text())
		if !ok || fstype != "cgroup2" {
			continue
		}
		if root == "/" {
			return point, nil
		}
		if subtree == "" {
			subtree = point
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read mountinfo: %w", err)
	}
	if subtree == "" {
		return "", ErrNoCgroup2Mount
	}
	return subtree, nil
}

// parseMountInfoLine extracts the fields of one mountinfo line that matter
// here. The line has a variable number of optional fields, terminated by a
// lone "-" and followed by the file system type.
func parseMountInfoLine(line string) (root, point, fstype string, ok bool) {
	fields := strings.Fields(line)
	if len(fields) < 10 {
		return "", "", "", false
	}
	for i := 6; i < len(fields)-1; i++ {
		if fields[i] == "-" {
			return unescapeMount(fields[3]), unescapeMount(fields[4]), fields[i+1], true
		}
	}
	return "", "", "", false
}

// unescapeMount undoes the kernel's octal escaping of space, tab, newline
// and backslash (\040, \011, \012, \134) in mountinfo paths.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctalEscape(s[i+1:i+4]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isOctalEscape reports whether d is three octal digits encoding one byte.
func isOctalEscape(d string) bool {
	return '0' <= d[0] && d[0] <= '3' &&
		'0' <= d[1] && d[1] <= '7' &&
		'0' <= d[2] && d[2] <= '7'
}
