package profile

import (
	"fmt"
	"slices"
	"testing"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
)

const (
	capDACReadSearch = 2
	sysChroot        = 161
	sysOpenat        = 257
)

// event is a check or, with exit set, an exit of a Run.
type event struct {
	args    string // the process's command line, one argument
	tid     uint32
	cap     int
	denied  bool
	syscall int
	noaudit bool
	exit    string
}

func runOf(events ...event) *Run {
	r := NewRun()
	for _, e := range events {
		p := proc.Info{PID: e.tid, Args: []string{e.args}}
		if e.exit != "" {
			r.AddExit(&p, e.exit)
			continue
		}
		c := check.Check{Cap: e.cap, Denied: e.denied, TID: e.tid, PID: e.tid, Syscall: e.syscall, Audit: check.Audited,
			UserNS: check.UserNamespace{IsHost: true}, Process: p, Count: 1}
		if e.noaudit {
			c.Audit = check.NotAudited
		}
		r.AddCheck(&c)
	}
	return r
}

func TestRunDifferences(t *testing.T) {
	chrootGranted := event{args: "chroot", tid: 7, cap: capSysChroot, syscall: sysChroot}
	chrootDenied := event{args: "chroot", tid: 8, cap: capSysChroot, syscall: sysChroot, denied: true}
	// A directory search holding everything, and without DAC_READ_SEARCH.
	searchGranted := event{args: "cat", tid: 9, cap: capDACReadSearch, syscall: sysOpenat}
	searchDenied := event{args: "cat", tid: 9, cap: capDACReadSearch, syscall: sysOpenat, denied: true}
	overrideGranted := event{args: "cat", tid: 9, cap: capDacOverride, syscall: sysOpenat}
	many := make([]event, 0, maxValues+2)
	for i := range maxValues + 2 {
		many = append(many, event{args: fmt.Sprintf("worker %02d", i), exit: "exit status 1"})
	}
	for _, tc := range []struct {
		name            string
		recorded, rerun []event
		killed          bool // a timeout killed both runs: ForgetKilled
		want            []string
	}{
		{name: "the same", recorded: []event{chrootGranted, {args: "sh", exit: "exit status 0"}},
			rerun: []event{chrootGranted, {args: "sh", exit: "exit status 0"}}, want: []string{}},
		{name: "a capability granted when recorded is denied",
			recorded: []event{chrootGranted, {args: "sh", exit: "exit status 0"}, {args: "chroot", exit: "exit status 0"}},
			rerun:    []event{chrootDenied, {args: "sh", exit: "exit status 0"}, {args: "chroot", exit: "exit status 125"}},
			want: []string{"chroot: CAP_SYS_CHROOT denied, granted when recorded",
				"chroot: exit status 125 (recorded: exit status 0)"}},
		{name: "denied both times", recorded: []event{chrootDenied}, rerun: []event{chrootDenied}, want: []string{}},
		{name: "a not audited check does not count",
			recorded: []event{{args: "sh", tid: 3, cap: capSysAdmin, noaudit: true}},
			rerun:    []event{{args: "sh", tid: 3, cap: capSysAdmin, noaudit: true, denied: true}}, want: []string{}},
		{name: "the kernel falls back to another capability",
			recorded: []event{searchGranted}, rerun: []event{searchDenied, overrideGranted}, want: []string{}},
		{name: "the next check is in another syscall",
			recorded: []event{searchGranted},
			rerun:    []event{searchDenied, {args: "cat", tid: 9, cap: capDacOverride, syscall: sysChroot}},
			want:     []string{"cat: CAP_DAC_READ_SEARCH denied, granted when recorded"}},
		{name: "the next check is another thread's",
			recorded: []event{searchGranted},
			rerun:    []event{searchDenied, {args: "cat", tid: 10, cap: capDacOverride, syscall: sysOpenat}},
			want:     []string{"cat: CAP_DAC_READ_SEARCH denied, granted when recorded"}},
		{name: "processes of one command line are compared by their statuses",
			recorded: []event{{args: "nginx", exit: "exit status 0"}, {args: "nginx", exit: "exit status 0"}, {args: "nginx", exit: "exit status 0"}},
			rerun:    []event{{args: "nginx", exit: "exit status 2"}, {args: "nginx", exit: "exit status 0"}, {args: "nginx", exit: "exit status 2"}},
			want:     []string{"nginx: exit status 0, exit status 2 (recorded: exit status 0)"}},
		{name: "how many processes of a command line ran does not count",
			recorded: []event{{args: "sleep 0.1", exit: "exit status 0"}, {args: "sleep 0.1", exit: "exit status 0"}},
			rerun:    []event{{args: "sleep 0.1", exit: "exit status 0"}}, want: []string{}},
		{name: "a different set of statuses",
			recorded: []event{{args: "job", exit: "exit status 0"}, {args: "job", exit: "exit status 1"}},
			rerun:    []event{{args: "job", exit: "exit status 0"}, {args: "job", exit: "exit status 2"}},
			want:     []string{"job: exit status 0, exit status 2 (recorded: exit status 0, exit status 1)"}},
		{name: "a process that did not run, and one that was not recorded",
			recorded: []event{{args: "sleep 1", exit: "exit status 0"}},
			rerun:    []event{{args: "sleep 2", exit: "signal: killed"}},
			want: []string{"sleep 1: did not run (recorded: exit status 0)",
				"sleep 2: signal: killed (recorded: did not run)"}},
		{name: "processes SIGKILL ended are forgotten", killed: true,
			recorded: []event{{args: "sleep 1", exit: "exit status 0"}, {args: "chown", exit: "signal: killed"}},
			rerun:    []event{{args: "sleep 1", exit: "signal: killed"}, {args: "sleep 1", exit: "exit status 0"}}, want: []string{}},
		{name: "at most maxValues lines", rerun: many,
			want: append(slices.Collect(func(yield func(string) bool) {
				for i := range maxValues - 1 {
					if !yield(fmt.Sprintf("worker %02d: exit status 1 (recorded: did not run)", i)) {
						return
					}
				}
			}), "3 more")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rerun, recorded := runOf(tc.rerun...), runOf(tc.recorded...)
			if tc.killed {
				rerun.ForgetKilled()
				recorded.ForgetKilled()
			}
			got := rerun.Differences(recorded)
			if !slices.Equal(got, tc.want) {
				t.Errorf("differences\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
