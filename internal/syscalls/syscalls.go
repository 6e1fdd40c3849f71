package syscalls

import "runtime"

// Arch identifies a syscall table.
type Arch string

// The architectures with a table. The values are the kernel's (uname -m)
// spelling, so they read naturally in recorded data.
const (
	X8664   Arch = "x86_64"
	AArch64 Arch = "aarch64"
)

// Native returns the table for runtime.GOARCH (amd64 → X8664, arm64 → AArch64; others: "" ).
func Native() Arch {
	switch runtime.GOARCH {
	case "amd64":
		return X8664
	case "arm64":
		return AArch64
	}
	return ""
}

// Name returns the syscall name for nr on arch ("sethostname"), or "" when nr is negative (no syscall: kernel thread or not in a syscall) or unknown.
func Name(arch Arch, nr int) string {
	names := table(arch)
	if nr < 0 || nr >= len(names) {
		return ""
	}
	return names[nr]
}

// Number returns the number of a named syscall on arch, and whether it exists.
// The number is -1 when it does not, matching what Name treats as "no
// syscall".
func Number(arch Arch, name string) (int, bool) {
	// "" marks gaps in the tables, so it must not match one.
	if name == "" {
		return -1, false
	}
	// A linear scan is fine: tables have a few hundred entries and Number
	// serves configuration parsing, not event decoding.
	for nr, n := range table(arch) {
		if n == name {
			return nr, true
		}
	}
	return -1, false
}

// table returns the names of arch indexed by number, or nil for an unknown
// arch. Callers must not modify the result.
func table(arch Arch) []string {
	switch arch {
	case X8664:
		return x8664Names[:]
	case AArch64:
		return aarch64Names[:]
	}
	return nil
}
