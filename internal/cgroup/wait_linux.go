package cgroup

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// WaitEmpty returns when no process is left in the cgroup or below it, as
// its cgroup.events says ("populated 0", Linux 4.5+), or with ctx's error
// when ctx ends first. The kernel reports every change of that file as a
// modification (kernfs_notify), so it is watched with inotify, not polled.
func (d *Dir) WaitEmpty(ctx context.Context) error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("watch cgroup: %w", err)
	}
	// Non-blocking, so reads go through the runtime's poller and a
	// deadline ends them.
	watch := os.NewFile(uintptr(fd), "inotify")
	defer watch.Close()
	events := filepath.Join(d.Path, "cgroup.events")
	// Watched before the first read: a change after it is not missed.
	if _, err := unix.InotifyAddWatch(fd, events, unix.IN_MODIFY); err != nil {
		return fmt.Errorf("watch cgroup: %w", err)
	}
	defer context.AfterFunc(ctx, func() { _ = watch.SetReadDeadline(time.Now()) })()
	buf := make([]byte, 4096)
	for {
		populated, err := populated(events)
		if err != nil {
			return err
		}
		if !populated {
			return nil
		}
		if _, err := watch.Read(buf); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("watch cgroup: %w", err)
		}
	}
}

// populated reads the "populated" key of a cgroup.events file.
func populated(events string) (bool, error) {
	data, err := os.ReadFile(events)
	if err != nil {
		return false, fmt.Errorf("read cgroup events: %w", err)
	}
	for sc := bufio.NewScanner(bytes.NewReader(data)); sc.Scan(); {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("populated ")); ok {
			return string(v) != "0", nil
		}
	}
	return false, fmt.Errorf("read cgroup events: no populated key in %s", events)
}
