package tracer

import (
	"github.com/capprof/capprof/bpf"
	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/config"
)

// The settings below decode themselves (UnmarshalText), so that no shell
// parses them; controller.Config.Validate holds every other rule of a
// Config, and Open trusts it.

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

var methods = config.Names[Method]{
	{Value: Auto, Name: "auto"},
	{Value: TPBTF, Name: "tp_btf"},
	{Value: RawTracepoint, Name: "raw_tracepoint"},
	{Value: Tracepoint, Name: "tracepoint"},
	{Value: Fexit, Name: "fexit"},
	{Value: Kprobe, Name: "kprobe"},
}

func (m Method) MarshalText() ([]byte, error) { return methods.Text(m) }

func (m *Method) UnmarshalText(text []byte) (err error) {
	*m, err = methods.Parse(text)
	return err
}

// Validate reports whether m is auto or a method.
func (m Method) Validate() error { return methods.Check(m) }

// SeesOpts reports whether the method reads cap_capable's opts, and so knows
// CAP_OPT_NOAUDIT without classifying the call site.
func (m Method) SeesOpts() bool { return m == Fexit || m == Kprobe }

// Mode says how checks are reported; its values are enum mode's.
type Mode uint8

const (
	// Stream sends one event per check.
	Stream = Mode(bpf.CapprofModeMODE_STREAM)
	// Unique sends a key's first check at once and counts the rest in the kernel.
	Unique = Mode(bpf.CapprofModeMODE_UNIQUE)
)

var modes = config.Names[Mode]{{Value: Stream, Name: "stream"}, {Value: Unique, Name: "unique"}}

func (m Mode) String() string { return modes.Format(m) }

func (m Mode) MarshalText() ([]byte, error) { return modes.Text(m) }

func (m *Mode) UnmarshalText(text []byte) (err error) {
	*m, err = modes.Parse(text)
	return err
}

// Validate reports whether m is a mode.
func (m Mode) Validate() error { return modes.Check(m) }

// Verdict selects checks by their result; its values are enum
// verdict_filter's.
type Verdict uint8

const (
	AllVerdicts = Verdict(bpf.CapprofVerdictFilterVERDICT_ALL)
	Denied      = Verdict(bpf.CapprofVerdictFilterVERDICT_DENIED)
	Granted     = Verdict(bpf.CapprofVerdictFilterVERDICT_GRANTED)
)

var verdicts = config.Names[Verdict]{
	{Value: AllVerdicts, Name: "all"},
	{Value: Denied, Name: "denied"},
	{Value: Granted, Name: "granted"},
}

func (v Verdict) String() string { return verdicts.Format(v) }

func (v Verdict) MarshalText() ([]byte, error) { return verdicts.Text(v) }

func (v *Verdict) UnmarshalText(text []byte) (err error) {
	*v, err = verdicts.Parse(text)
	return err
}

// Validate reports whether v is a verdict filter.
func (v Verdict) Validate() error { return verdicts.Check(v) }

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

var audits = config.Names[Audit]{{Value: AllAudit, Name: "all"}, {Value: Audited, Name: "audited"}}

func (a Audit) MarshalText() ([]byte, error) { return audits.Text(a) }

func (a *Audit) UnmarshalText(text []byte) (err error) {
	*a, err = audits.Parse(text)
	return err
}

// Validate reports whether a is an audit setting.
func (a Audit) Validate() error { return audits.Check(a) }

// MaxCgroupFilters is how many include (and exclude) subtrees the kernel
// side holds: MAX_CGROUP_FILTERS, the entries of the cgroup_include and
// cgroup_exclude maps (a test reads them from the object).
const MaxCgroupFilters = 8

// Config is what Open needs. Start from DefaultConfig; Open expects a
// Config that controller.Config.Validate accepts.
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
	// RingBufferSize is the ring buffer's size in bytes: a power of two, at
	// least a page.
	RingBufferSize int
	// WakeupBytes is how much data waits in the ring buffer before the reader is woken.
	WakeupBytes uint64
	// DedupEntries bounds unique mode's LRU map of keys.
	DedupEntries uint32
	// SelectedCgroups bounds the live selection's map of cgroup ids
	// (SelectCgroup): one per selected pod.
	SelectedCgroups uint32
	// SelectionActive starts the program with the selection switched on
	// (SetSelectionActive), so that nothing outside it is recorded from
	// the first check.
	SelectionActive bool
	// HostMountNS is pid 1's mount namespace inode; processes in it are host processes.
	HostMountNS uint32
	// NoauditRanges are kernel text ranges of NOAUDIT callers (tracepoint
	// methods only), at most maxNoauditRanges.
	NoauditRanges []AddrRange
}

// DefaultConfig returns the configuration a recording starts from: every
// check (AllAudit); the shells choose their own audit default.
func DefaultConfig() Config {
	return Config{
		Method:          Auto,
		Mode:            Stream,
		Verdict:         AllVerdicts,
		Audit:           AllAudit,
		IncludeHost:     true,
		RingBufferSize:  4 << 20,
		WakeupBytes:     64 << 10,
		DedupEntries:    32768,
		SelectedCgroups: 16384,
	}
}
