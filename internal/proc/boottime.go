package proc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// bootWallTime returns the wall-clock time at which the kernel's boot-time
// clock (CLOCK_BOOTTIME, bpf_ktime_get_boot_ns, task->start_boottime) read
// zero. It prefers the clocks because /proc/stat's btime only has one-second
// resolution, which would make converted times jitter against each other;
// btime is the fallback where the clocks are unavailable. If neither works
// the Unix epoch is used so that converted times stay ordered, if wrong.
// fromClocks is a parameter so that the fallbacks can be tested.
func bootWallTime(procRoot string, fromClocks func() (time.Time, error)) time.Time {
	if t, err := fromClocks(); err == nil {
		return t
	}
	if t, err := readBtime(filepath.Join(procRoot, "stat")); err == nil {
		return t
	}
	return time.Unix(0, 0)
}

// readBtime reads the "btime" line (boot time in seconds since the epoch)
// from a /proc/stat file.
func readBtime(path string) (time.Time, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, fmt.Errorf("read boot time: %w", err)
	}
	return parseBtime(data)
}

func parseBtime(data []byte) (time.Time, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("btime "))
		if !ok {
			continue
		}
		sec, err := strconv.ParseInt(string(bytes.TrimSpace(rest)), 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("parse btime %q: %w", rest, err)
		}
		return time.Unix(sec, 0), nil
	}
	if err := sc.Err(); err != nil {
		return time.Time{}, fmt.Errorf("scan /proc/stat: %w", err)
	}
	return time.Time{}, errors.New("no btime line in /proc/stat")
}

// WallTime converts a kernel boot-time timestamp in nanoseconds to wall-clock
// time. The offset is measured once at NewCache: re-measuring would make the
// same kernel timestamp convert differently over time (NTP slews and steps),
// and consistent times across events matter more than tracking clock
// adjustments made while capprof runs.
func (c *Cache) WallTime(bootNS uint64) time.Time {
	// Durations are int64; clamp rather than wrap to a time before boot.
	// 2^63 ns is about 292 years of uptime, so this only guards bad input.
	if bootNS > math.MaxInt64 {
		bootNS = math.MaxInt64
	}
	return c.bootWall.Add(time.Duration(bootNS))
}
