package check

import (
	"strconv"
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/proc"
)

// EventName is the OpenTelemetry event name of a capability check record.
const EventName = "linux.capability.check"

// ScopeName is the instrumentation scope of every record capprof emits,
// whichever output or Collector component emits it.
const ScopeName = "github.com/capprof/capprof"

// Audit says whether a check was an audited one (CAP_OPT_NOAUDIT unset).
type Audit uint8

const (
	AuditUnknown Audit = iota // the attach method could not tell
	Audited
	NotAudited // CAP_OPT_NOAUDIT: a probe, such as cap_vm_enough_memory's
)

// UserNamespace is the target user namespace of a check.
type UserNamespace struct {
	Level    uint32
	Inode    uint32
	OwnerUID uint32
	OwnerGID uint32
	IsHost   bool // the initial user namespace
}

// Check is one cap_capable() verdict (or, in unique mode, Count of them).
type Check struct {
	Time        time.Time
	Cap         int
	Denied      bool
	Audit       Audit
	ForeignCred bool     // checked credentials were not the task's own
	Effective   caps.Set // the checked credentials' effective set
	UID, EUID   uint32   // the checked credentials' real and effective uid
	Count       uint64   // 1 in stream mode; hits since the last record in unique mode
	UserNS      UserNamespace
	Syscall     int    // -1 when the check was not made in a syscall
	SyscallName string // "" when unknown
	PID, TID    uint32
	CgroupID    uint64
	CgroupPath  string
	Process     proc.Info // zero when the process is unknown
	Container   cgroup.Container
	// Kubernetes is the pod metadata of the container; nil when unknown.
	// Shared by the container's checks: never modify it.
	Kubernetes *Kubernetes
	// RuntimeSetup marks a check made by the container runtime setting the
	// container up (runc init), not by the container's own program.
	RuntimeSetup bool
	HostName     string
}

// Verdict is "granted" or "denied".
func (c *Check) Verdict() string {
	if c.Denied {
		return "denied"
	}
	return "granted"
}

// Body is the short human summary carried as the log record's body.
func (c *Check) Body() string {
	exe := c.Process.ExecutablePath
	if exe == "" {
		exe = "pid " + strconv.FormatUint(uint64(c.PID), 10)
	}
	return caps.Name(c.Cap) + " " + c.Verdict() + " to " + exe
}

// Severity is WARN for a denied check, INFO for a granted one.
func (c *Check) Severity() Severity {
	if c.Denied {
		return SeverityWarn
	}
	return SeverityInfo
}

// Severity mirrors the OpenTelemetry severity numbers this package uses.
type Severity int

const (
	SeverityInfo Severity = 9
	SeverityWarn Severity = 13
)

// String is the severity text.
func (s Severity) String() string {
	if s == SeverityWarn {
		return "WARN"
	}
	return "INFO"
}
