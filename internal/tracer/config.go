package tracer

import (
	"fmt"
	"slices"
	"strings"

	"github.com/capprof/capprof/internal/caps"
)

// Method is a way of attaching to cap_capable.
type Method string

const (
	Auto          Method = "auto"
	TPBTF         Method = "tp_btf"
	RawTracepoint Method = "raw_tracepoint"
	Tracepoint    Method = "tracepoint"
	Fexit         Method = "fexit"
	Kprobe        Method = "kprobe"
)

// Methods lists the concrete methods in the order Auto tries them.
var Methods = []Method{TPBTF, RawTracepoint, Tracepoint, Fexit, Kprobe}

// ParseMethod parses an --attach value.
func ParseMethod(s string) (Method, error) {
	if m := Method(s); m == Auto || slices.Contains(Methods, m) {
		return m, nil
	}
	return "", fmt.Errorf("unknown attach method %q (want auto, %s)", s, joinMethods())
}

// SeesOpts reports whether the method reads cap_capable's opts, and so knows
// CAP_OPT_NOAUDIT without classifying the call site.
func (m Method) SeesOpts() bool { return m == Fexit || m == Kprobe }

// Mode says how checks are reported.
type Mode string

const (
	// Stream sends one event per check.
	Stream Mode = "stream"
	// Unique sends a key's first check at once and counts the rest in the kernel.
	Unique Mode = "unique"
)

// ParseMode parses a --mode value.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case Stream, Unique:
		return Mode(s), nil
	}
	return "", fmt.Errorf("unknown mode %q (want stream or unique)", s)
}

// Verdict selects checks by their result.
type Verdict string

const (
	AllVerdicts Verdict = "all"
	Denied      Verdict = "denied"
	Granted     Verdict = "granted"
)

// ParseVerdict parses a --verdict value.
func ParseVerdict(s string) (Verdict, error) {
	switch Verdict(s) {
	case AllVerdicts, Denied, Granted:
		return Verdict(s), nil
	}
	return "", fmt.Errorf("unknown verdict %q (want all, denied or granted)", s)
}

// Audit selects checks by whether the kernel audits them.
type Audit string

const (
	// AllAudit keeps every check.
	AllAudit Audit = "all"
	// Audited drops the checks the kernel makes with CAP_OPT_NOAUDIT (every
	// memory commit of a non-root process, ns_capable_noaudit()) in the
	// kernel, and counts them per capability. A check whose flag cannot be
	// told is kept.
	Audited Audit = "audited"
)

// UnmarshalText parses an --audit value.
func (a *Audit) UnmarshalText(text []byte) error {
	switch v := Audit(text); v {
	case AllAudit, Audited:
		*a = v
		return nil
	}
	return fmt.Errorf("unknown audit setting %q (want all or audited)", text)
}

// MarshalText returns the setting's name.
func (a Audit) MarshalText() ([]byte, error) { return []byte(a), nil }

// MaxCgroupFilters is how many include (and exclude) subtrees the kernel side holds.
const MaxCgroupFilters = 8

// Config is what Open needs. The zero value is not valid: start from DefaultConfig.
type Config struct {
	Method  Method
	Mode    Mode
	Verdict Verdict
	Audit   Audit
	// Caps keeps only these capabilities; 0 keeps all.
	Caps        caps.Set
	IncludeHost bool
	// CgroupInclude and CgroupExclude are cgroup v2 directories (absolute
	// paths) whose subtrees are kept or dropped.
	CgroupInclude []string
	CgroupExclude []string
	// PIDs, when set, keeps only these processes and their future children.
	PIDs []uint32
	// RingBufferSize is the ring buffer's size in bytes: a power of two, at least a page.
	RingBufferSize uint32
	// WakeupBytes is how much data waits in the ring buffer before the reader is woken.
	WakeupBytes uint64
	// DedupEntries bounds unique mode's LRU map of keys.
	DedupEntries uint32
	// HostMountNS is pid 1's mount namespace inode; processes in it are host processes.
	HostMountNS uint32
	// NoauditRanges are kernel text ranges of NOAUDIT callers (tracepoint methods only).
	NoauditRanges []AddrRange
}

// DefaultConfig returns the configuration a recording starts from: every
// check (AllAudit); the shells choose their own audit default.
func DefaultConfig() Config {
	return Config{
		Method:         Auto,
		Mode:           Stream,
		Verdict:        AllVerdicts,
		Audit:          AllAudit,
		IncludeHost:    true,
		RingBufferSize: 4 << 20,
		WakeupBytes:    64 << 10,
		DedupEntries:   32768,
	}
}

// Validate reports the first invalid field, named as the user knows it.
func (c *Config) Validate() error {
	if _, err := ParseMethod(string(c.Method)); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	if _, err := ParseMode(string(c.Mode)); err != nil {
		return fmt.Errorf("mode: %w", err)
	}
	if _, err := ParseVerdict(string(c.Verdict)); err != nil {
		return fmt.Errorf("verdict: %w", err)
	}
	if err := new(Audit).UnmarshalText([]byte(c.Audit)); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if n := c.RingBufferSize; n < 4096 || n&(n-1) != 0 {
		return fmt.Errorf("ring buffer size: %d is not a power of two of at least 4096", n)
	}
	if c.DedupEntries == 0 {
		return fmt.Errorf("dedup entries: must be positive")
	}
	if len(c.CgroupInclude) > MaxCgroupFilters || len(c.CgroupExclude) > MaxCgroupFilters {
		return fmt.Errorf("cgroups: at most %d include and %d exclude subtrees", MaxCgroupFilters, MaxCgroupFilters)
	}
	if len(c.NoauditRanges) > maxNoauditRanges {
		return fmt.Errorf("noaudit ranges: at most %d", maxNoauditRanges)
	}
	return nil
}

func joinMethods() string {
	s := make([]string, len(Methods))
	for i, m := range Methods {
		s[i] = string(m)
	}
	return strings.Join(s, ", ")
}
