package profile

import "time"

// Profile is what the observations of one Key say: every capability checked,
// with the evidence of each class, and the advice derived from them. The JSON
// output is a list of these; the field tags are its schema
// (docs/profiles.md).
type Profile struct {
	// ID is Key.String(); profiles are sorted by it.
	ID   string `json:"id"`
	Kind string `json:"kind"` // Key.Kind()
	Key  Key    `json:"key"`
	// FirstSeen and LastSeen bound the times of the checks seen (the
	// observation window).
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Observations is the number of observations (records) added; Checks the
	// number of kernel checks they stand for (the sum of their counts).
	Observations uint64 `json:"observations"`
	Checks       uint64 `json:"checks"`
	// Hosts and Images are the host names and images seen, sorted, at most
	// maxValues of each; the Truncated flags say that more were seen.
	Hosts           []string `json:"hosts"`
	HostsTruncated  bool     `json:"hosts_truncated"`
	Images          []string `json:"images"`
	ImagesTruncated bool     `json:"images_truncated"`
	// Effective is the union of the effective sets of the workload's own
	// checks (not runtime setup, not foreign credentials, not namespaced):
	// what it holds. "CAP_" names, ascending by number.
	Effective []string `json:"effective"`
	// Declared is the declared securityContext, from the most recent
	// observation that carried one; nil when none did.
	Declared *Declared `json:"declared,omitempty"`
	// Capabilities lists every capability checked, ascending by number.
	Capabilities []Capability `json:"capabilities"`
	Advice       Advice       `json:"advice"`
	// Stopped says why the recording of a command ended while some of its
	// processes still ran (capprof run --timeout killed them): what they
	// would have done next is not in the profile. Empty otherwise; like
	// Verification, the caller sets it.
	Stopped string `json:"stopped,omitempty"`
	// Verification is what re-running the command under the advice showed
	// (capprof run --verify); absent otherwise.
	Verification *Verification `json:"verification,omitempty"`
}

// Verdicts of a capability, as Capability.Verdict says them.
const (
	// VerdictNeeded: granted to the workload's own check at least once.
	VerdictNeeded = "needed"
	// VerdictDeniedOnly: the workload's own checks were denied, never
	// granted: attempted and denied, never added automatically.
	VerdictDeniedOnly = "denied-only"
	// VerdictNamespaced: used only in user namespaces the workload owns.
	VerdictNamespaced = "namespaced"
	// VerdictIgnored: only ignored checks (runtime setup, foreign
	// credentials, not audited).
	VerdictIgnored = "ignored"
)

// Evidence classes, as Evidence.Class says them: "own", "namespaced", or an
// ignored reason (ReasonRuntimeSetup, ...).
const (
	EvidenceOwn        = "own"
	EvidenceNamespaced = "namespaced"
)

// Capability is one capability's checks in a profile.
type Capability struct {
	Name    string `json:"name"` // "CAP_NET_BIND_SERVICE"
	ID      int    `json:"id"`
	Verdict string `json:"verdict"`
	// Granted and Denied count the own and namespaced checks; Ignored the
	// ignored ones, granted or denied.
	Granted   uint64    `json:"granted"`
	Denied    uint64    `json:"denied"`
	Ignored   uint64    `json:"ignored"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Evidence has one entry per class that has checks, in rule order: own,
	// namespaced, runtime_setup, foreign_credentials, not_audited.
	Evidence []Evidence `json:"evidence"`
}

// Evidence is what the checks of one class of one capability showed.
type Evidence struct {
	Class   string `json:"class"`
	Granted uint64 `json:"granted"`
	Denied  uint64 `json:"denied"`
	// AuditUnknown counts the checks among these whose audit flag was
	// unknown (the attach method could not tell).
	AuditUnknown uint64    `json:"audit_unknown"`
	FirstSeen    time.Time `json:"first_seen"`
	LastSeen     time.Time `json:"last_seen"`
	// Executables and Syscalls that made the checks, sorted, at most
	// maxValues each (the first ones seen). A syscall without a name is
	// "#<number>"; checks made outside a syscall add none.
	Executables          []string `json:"executables"`
	ExecutablesTruncated bool     `json:"executables_truncated"`
	Syscalls             []string `json:"syscalls"`
	SyscallsTruncated    bool     `json:"syscalls_truncated"`
}

// EvidenceOf returns the capability's evidence of a class, if it has any.
func (c *Capability) EvidenceOf(class string) (Evidence, bool) {
	for _, e := range c.Evidence {
		if e.Class == class {
			return e, true
		}
	}
	return Evidence{}, false
}

// ignoredReasons returns the ignored reasons the capability has evidence of.
func (c *Capability) ignoredReasons() []string {
	var out []string
	for _, e := range c.Evidence {
		if _, ok := classOfReason(e.Class); ok {
			out = append(out, e.Class)
		}
	}
	return out
}
