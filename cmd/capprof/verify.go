package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/profile"
)

// errNotVerified makes `capprof run --verify` exit 1 when the advised set
// does not reproduce the recorded run.
var errNotVerified = errors.New("the advice is not verified: with exactly the advised capabilities the command behaves differently")

// errVerifyInterrupted: SIGINT or SIGTERM during a verification run; the
// runs left are not made.
var errVerifyInterrupted = errors.New("verification interrupted")

// verifyAdvice re-runs the recorded command (spec, as the same user,
// waited for as it was) with exactly the advised capabilities, then once
// without each of them, each run recorded in a cgroup of its own that is
// removed after it (killing what it left running), and says how each
// behaved compared with the recorded run: how its first process exited and
// what it did differently (profile.Run.Differences). It reports progress to
// stderr.
func verifyAdvice(r *cgroup.Resolver, spec launchSpec, add []string, recorded *recording, log *slog.Logger, stderr io.Writer) (*profile.Verification, error) {
	advised, err := caps.ParseSet(strings.Join(add, ","))
	if err != nil {
		return nil, fmt.Errorf("verify: advised capabilities: %w", err)
	}
	v := &profile.Verification{User: spec.userText(), Recorded: recorded.status, Without: []profile.WithoutRun{}}
	list := "none"
	if len(add) > 0 {
		list = strings.Join(add, ", ")
	}
	var same bool
	if v.Advised, v.Differences, same, err = verifyRun(r, spec, advised, "exactly ["+list+"]", recorded, log, stderr); err != nil {
		return nil, err
	}
	v.Verified = same
	for _, id := range advised.IDs() {
		name := caps.KubernetesName(id)
		status, diffs, same, err := verifyRun(r, spec, advised&^caps.Set(0).With(id), "all advised but "+name, recorded, log, stderr)
		if err != nil {
			return nil, err
		}
		v.Without = append(v.Without, profile.WithoutRun{Name: name, Exit: status, Differences: diffs, Necessary: !same})
	}
	return v, nil
}

// verifyRun records spec's command with capabilities set, its output
// discarded, and returns how its first process exited, what it did
// differently from the recorded run, and whether it behaved as recorded.
func verifyRun(r *cgroup.Resolver, spec launchSpec, set caps.Set, what string, recorded *recording, log *slog.Logger, stderr io.Writer) (status string, diffs []string, same bool, err error) {
	spec.caps = set
	rec, err := record(r, spec, false, log, stderr)
	if err != nil {
		return "", nil, false, fmt.Errorf("verify: %w", err)
	}
	if rec.interrupted {
		return "", nil, false, errVerifyInterrupted
	}
	diffs = rec.run.Differences(recorded.run)
	same = rec.status == recorded.status && len(diffs) == 0
	note := ""
	if len(diffs) > 0 {
		note = fmt.Sprintf("; %d differences from the recorded run", len(diffs))
	}
	fmt.Fprintf(stderr, "capprof run: verify with %s: %s%s\n", what, rec.status, note)
	return rec.status, diffs, same, nil
}
