package profile

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
)

// Verification is what re-running a command under its advice showed
// (`capprof run --verify`): the command run again with exactly the advised
// capabilities, then once without each of them, as the same user. A run
// "behaves as recorded" when its first process exits as the recorded run's
// did (exit status or terminating signal) and it shows none of the
// Differences a Run reports against the recording.
//
// The caller sets Profile.Verification after Builder.Profiles; the Builder
// neither makes nor restores it.
type Verification struct {
	// User is the uid:gid of the runs, the recorded run's.
	User string `json:"user"`
	// Recorded is how the recorded run's first process exited ("exit
	// status 0", "signal: killed").
	Recorded string `json:"recorded"`
	// Advised is how the run with exactly Advice.Add exited.
	Advised string `json:"advised"`
	// Differences is what the advised run did differently (Run.Differences).
	Differences []string `json:"differences"`
	// Verified: the run with exactly the advised capabilities behaved as
	// recorded.
	Verified bool `json:"verified"`
	// Without has one entry per advised capability, in Advice.Add's order.
	Without []WithoutRun `json:"without"`
}

// WithoutRun is the run with every advised capability but Name.
type WithoutRun struct {
	Name        string   `json:"name"` // Kubernetes name
	Exit        string   `json:"exit"`
	Differences []string `json:"differences"`
	// Necessary: without it the command did not behave as recorded, so
	// the capability is proven necessary (for what this run did).
	Necessary bool `json:"necessary"`
}

// Run is one run of a command as a verification compares runs: which
// capabilities its own checks (ClassOwn) were granted, which of them were
// refused, by process, and how each of its processes exited. Add the checks
// of a thread in the order it made them. Not safe for concurrent use.
type Run struct {
	granted caps.Set
	refused map[processCap]bool
	exits   map[string][]string // statuses by process name
	// pending holds each thread's last refused check until the thread's
	// next check says whether the kernel fell back to another capability.
	pending map[uint32]refusal
}

type processCap struct {
	process string
	cap     int
}

type refusal struct {
	processCap
	syscall int
}

// NewRun returns an empty Run.
func NewRun() *Run {
	return &Run{refused: map[processCap]bool{}, exits: map[string][]string{}, pending: map[uint32]refusal{}}
}

// AddCheck adds a check. A denied check that the same thread follows at
// once, in the same syscall, with a granted check of another capability
// refused nothing: that is the kernel trying one capability and then
// another (a directory search asks for CAP_DAC_READ_SEARCH, then
// CAP_DAC_OVERRIDE), and the second one did the work.
func (r *Run) AddCheck(c *check.Check) {
	if c.RuntimeSetup || classify(&Observation{Check: *c}) != ClassOwn {
		return
	}
	if p, ok := r.pending[c.TID]; ok {
		delete(r.pending, c.TID)
		if c.Denied || c.Cap == p.cap || c.Syscall != p.syscall {
			r.refused[p.processCap] = true
		}
	}
	if c.Denied {
		r.pending[c.TID] = refusal{processCap{processName(&c.Process), c.Cap}, c.Syscall}
		return
	}
	r.granted = r.granted.With(c.Cap)
}

// AddExit adds how a process ended ("exit status 0", "signal: killed").
func (r *Run) AddExit(p *proc.Info, status string) {
	name := processName(p)
	r.exits[name] = append(r.exits[name], status)
}

// Differences lists what r did that recorded did not, sorted, at most
// maxValues lines (the last then says how many more): each process refused
// a capability that recorded's checks were granted ("chroot / true:
// CAP_SYS_CHROOT denied, granted when recorded"), then each command line
// whose processes ended with a status the other run's did not ("chroot /
// true: exit status 125 (recorded: exit status 0)").
func (r *Run) Differences(recorded *Run) []string {
	r.settle()
	recorded.settle()
	var denied []string
	for pc := range r.refused {
		if recorded.granted.Has(pc.cap) {
			denied = append(denied, pc.process+": "+caps.Name(pc.cap)+" denied, granted when recorded")
		}
	}
	slices.Sort(denied)
	names := slices.AppendSeq(slices.Collect(maps.Keys(r.exits)), maps.Keys(recorded.exits))
	slices.Sort(names)
	var exits []string
	for _, name := range slices.Compact(names) {
		got, want := distinct(r.exits[name]), distinct(recorded.exits[name])
		if !slices.Equal(got, want) {
			exits = append(exits, name+": "+statusList(got)+" (recorded: "+statusList(want)+")")
		}
	}
	out := append(denied, exits...)
	if len(out) > maxValues {
		out = append(out[:maxValues-1], strconv.Itoa(len(out)-maxValues+1)+" more")
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// settle counts the refusals still waiting for their thread's next check.
func (r *Run) settle() {
	for tid, p := range r.pending {
		r.refused[p.processCap] = true
		delete(r.pending, tid)
	}
}

// distinct returns the statuses sorted, each once. Sets, not counts: how
// many times a daemon's periodic job ran in a run of fixed length is not
// behaviour.
func distinct(statuses []string) []string {
	out := slices.Clone(statuses)
	slices.Sort(out)
	return slices.Compact(out)
}

// statusList says a process's statuses: "exit status 0, exit status 2",
// or "did not run".
func statusList(statuses []string) string {
	if len(statuses) == 0 {
		return "did not run"
	}
	return strings.Join(statuses, ", ")
}

// ForgetKilled leaves the processes SIGKILL ended out of the comparison:
// after capprof run's timeout killed what was left, which of a run's
// processes happened to be running then is timing, not behaviour.
func (r *Run) ForgetKilled() {
	for name, statuses := range r.exits {
		r.exits[name] = slices.DeleteFunc(statuses, func(s string) bool { return s == killed })
		if len(r.exits[name]) == 0 {
			delete(r.exits, name)
		}
	}
}

// killed is how a status says SIGKILL ended a process.
const killed = "signal: killed"

// processName names a process by its command line, which a re-run repeats,
// where its pid would not.
func processName(p *proc.Info) string {
	switch {
	case len(p.Args) > 0:
		return oneLine(strings.Join(p.Args, " "))
	case p.ExecutablePath != "":
		return p.ExecutablePath
	}
	return "pid " + strconv.FormatUint(uint64(p.PID), 10)
}

// verificationLines is the verification in words: the table format prints
// them under the advice, the others as comments. Each run's differences
// follow it, indented.
func verificationLines(p *Profile) []string {
	v := p.Verification
	if v == nil {
		return nil
	}
	with := "as " + v.User + " with exactly [" + commaList(p.Advice.Add) + "]: " + v.Advised
	lines := []string{"NOT verified: " + with + " (recorded: " + v.Recorded + ")"}
	if v.Verified {
		lines = []string{"verified: " + with + ", as recorded"}
	}
	lines = appendIndented(lines, v.Differences)
	for _, w := range v.Without {
		switch {
		case !w.Necessary:
			lines = append(lines, w.Name+" not proven necessary: without it, "+w.Exit+" as well")
		case w.Exit == v.Recorded:
			lines = append(lines, w.Name+" proven necessary: without it, "+w.Exit+" as well, but:")
		default:
			lines = append(lines, w.Name+" proven necessary: without it, "+w.Exit)
		}
		lines = appendIndented(lines, w.Differences)
	}
	return lines
}

func appendIndented(lines, more []string) []string {
	for _, m := range more {
		lines = append(lines, "  "+m)
	}
	return lines
}
