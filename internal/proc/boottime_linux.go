package proc

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// bootWallTimeFromClocks computes realtime_now - boottime_now. The boottime
// reading is bracketed by two realtime readings and compared to their
// midpoint, which halves the error a preemption between the calls would add.
func bootWallTimeFromClocks() (time.Time, error) {
	var before, boot, after unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_REALTIME, &before); err != nil {
		return time.Time{}, fmt.Errorf("read realtime clock: %w", err)
	}
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot); err != nil {
		return time.Time{}, fmt.Errorf("read boottime clock: %w", err)
	}
	if err := unix.ClockGettime(unix.CLOCK_REALTIME, &after); err != nil {
		return time.Time{}, fmt.Errorf("read realtime clock: %w", err)
	}
	mid := before.Nano() + (after.Nano()-before.Nano())/2
	return time.Unix(0, mid-boot.Nano()), nil
}
