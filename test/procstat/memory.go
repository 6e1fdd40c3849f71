package procstat

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory is one reading of a process's resident memory, in KiB.
type Memory struct {
	Total  int
	Binary int // pages of the executable's own file
	BPF    int // BPF maps (a ring buffer's data pages are mapped twice)
	Anon   int // anonymous: the Go heap and runtime
}

// ReadMemory sums the Rss of pid's mappings by what backs them; bin is
// the executable's path, to tell its pages apart.
func ReadMemory(pid int, bin string) (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	var m Memory
	var backing string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			backing = ""
			if len(fields) >= 6 {
				backing = fields[5]
			}
		case fields[0] == "Rss:" && len(fields) >= 2:
			kb, err := strconv.Atoi(fields[1])
			if err != nil {
				return Memory{}, fmt.Errorf("smaps: %w", err)
			}
			m.Total += kb
			switch {
			case backing == bin:
				m.Binary += kb
			case strings.HasPrefix(backing, "anon_inode:bpf"):
				m.BPF += kb
			case backing == "" || strings.HasPrefix(backing, "["):
				m.Anon += kb
			}
		}
	}
	return m, sc.Err()
}
