package caps

import (
	"fmt"
	"strconv"
	"strings"
)

// Last is the highest capability number this package knows (CAP_CHECKPOINT_RESTORE, Linux 5.9).
const Last = 40

// maxID is the highest capability number a Set can hold. The kernel stores
// capabilities in a 64-bit kernel_cap_t, so numbers above Last up to maxID
// are plausible on newer kernels and must round-trip.
const maxID = 63

const prefix = "CAP_"

// names is indexed by capability number. It is only ever read.
var names = [Last + 1]string{
	0:  "CAP_CHOWN",
	1:  "CAP_DAC_OVERRIDE",
	2:  "CAP_DAC_READ_SEARCH",
	3:  "CAP_FOWNER",
	4:  "CAP_FSETID",
	5:  "CAP_KILL",
	6:  "CAP_SETGID",
	7:  "CAP_SETUID",
	8:  "CAP_SETPCAP",
	9:  "CAP_LINUX_IMMUTABLE",
	10: "CAP_NET_BIND_SERVICE",
	11: "CAP_NET_BROADCAST",
	12: "CAP_NET_ADMIN",
	13: "CAP_NET_RAW",
	14: "CAP_IPC_LOCK",
	15: "CAP_IPC_OWNER",
	16: "CAP_SYS_MODULE",
	17: "CAP_SYS_RAWIO",
	18: "CAP_SYS_CHROOT",
	19: "CAP_SYS_PTRACE",
	20: "CAP_SYS_PACCT",
	21: "CAP_SYS_ADMIN",
	22: "CAP_SYS_BOOT",
	23: "CAP_SYS_NICE",
	24: "CAP_SYS_RESOURCE",
	25: "CAP_SYS_TIME",
	26: "CAP_SYS_TTY_CONFIG",
	27: "CAP_MKNOD",
	28: "CAP_LEASE",
	29: "CAP_AUDIT_WRITE",
	30: "CAP_AUDIT_CONTROL",
	31: "CAP_SETFCAP",
	32: "CAP_MAC_OVERRIDE",
	33: "CAP_MAC_ADMIN",
	34: "CAP_SYSLOG",
	35: "CAP_WAKE_ALARM",
	36: "CAP_BLOCK_SUSPEND",
	37: "CAP_AUDIT_READ",
	38: "CAP_PERFMON",
	39: "CAP_BPF",
	40: "CAP_CHECKPOINT_RESTORE",
}

// Name returns "CAP_SYSLOG" for 34; for an unknown number "CAP_<n>" (e.g. "CAP_63").
func Name(id int) string {
	if id >= 0 && id <= Last {
		return names[id]
	}
	return prefix + strconv.Itoa(id)
}

// KubernetesName returns the name without the CAP_ prefix, as Kubernetes securityContext expects ("SYSLOG").
func KubernetesName(id int) string {
	return strings.TrimPrefix(Name(id), prefix)
}

// Parse accepts "CAP_SYSLOG", "cap_syslog", "SYSLOG", "syslog" or a decimal number "34" (0..63) and returns the number; error names the bad input.
//
// "CAP_<n>" is accepted too, because that is how Name renders numbers this
// package does not know, and its output has to parse back.
func Parse(s string) (int, error) {
	s = strings.TrimSpace(s)
	rest := s
	if len(rest) >= len(prefix) && equalFoldASCII(rest[:len(prefix)], prefix) {
		rest = rest[len(prefix):]
	}
	if rest == "" {
		return 0, fmt.Errorf("parse capability %q: empty name", s)
	}
	if c := rest[0]; c == '-' || c == '+' || (c >= '0' && c <= '9') {
		return parseNumber(s, rest)
	}
	for id, name := range names {
		if equalFoldASCII(rest, name[len(prefix):]) {
			return id, nil
		}
	}
	return 0, fmt.Errorf("parse capability %q: unknown name", s)
}

// parseNumber parses the numeric part rest of the input s; s is only used in
// error messages.
func parseNumber(s, rest string) (int, error) {
	if rest[0] == '-' {
		return 0, fmt.Errorf("parse capability %q: negative number", s)
	}
	// ParseUint rejects a leading '+', which keeps one spelling per number.
	n, err := strconv.ParseUint(rest, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse capability %q: not a decimal number", s)
	}
	if n > maxID {
		return 0, fmt.Errorf("parse capability %q: number out of range 0..%d", s, maxID)
	}
	return int(n), nil
}

// equalFoldASCII reports whether a and b are equal ignoring ASCII case.
// strings.EqualFold is avoided on purpose: its Unicode folding would accept
// look-alikes such as "ſyslog" (long s) or a Kelvin sign for "K".
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}
