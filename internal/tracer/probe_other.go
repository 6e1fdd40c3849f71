//go:build !linux

package tracer

import "errors"

// capprof records on Linux only; elsewhere the package builds so that the
// Collector distribution does, and every probe says no.

func kernelRelease() (string, error) { return "", errors.ErrUnsupported }

func bpffsMounted(string) error { return errors.ErrUnsupported }
