//go:build !linux

package proc

import (
	"errors"
	"time"
)

// bootWallTimeFromClocks has no CLOCK_BOOTTIME to read outside Linux; the
// package still builds there so its parsing and cache logic can be tested
// against a fake proc root.
func bootWallTimeFromClocks() (time.Time, error) {
	return time.Time{}, errors.New("CLOCK_BOOTTIME is only available on linux")
}
