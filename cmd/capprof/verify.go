package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/profile"
)

// errNotVerified makes `capprof run --verify` exit 1 when the advised set
// does not reproduce the recorded run.
var errNotVerified = errors.New("the advice is not verified: with exactly the advised capabilities the command exits differently")

// errVerifyInterrupted: SIGINT or SIGTERM during a verification run; the
// runs left are not made.
var errVerifyInterrupted = errors.New("verification interrupted")

// verifyAdvice re-runs the recorded command (spec, as the same user) with
// exactly the advised capabilities, then once without each of them, each run
// in a cgroup of its own that is removed after it (killing what it left
// running), and says how each exited compared with the recorded run. It
// reports progress to stderr.
func verifyAdvice(r *cgroup.Resolver, spec launchSpec, add []string, recorded string, stderr io.Writer) (*profile.Verification, error) {
	advised, err := caps.ParseSet(strings.Join(add, ","))
	if err != nil {
		return nil, fmt.Errorf("verify: advised capabilities: %w", err)
	}
	v := &profile.Verification{User: spec.userText(), Recorded: recorded, Without: []profile.WithoutRun{}}
	list := "none"
	if len(add) > 0 {
		list = strings.Join(add, ", ")
	}
	if v.Advised, err = verifyRun(r, spec, advised, "exactly ["+list+"]", stderr); err != nil {
		return nil, err
	}
	v.Verified = v.Advised == recorded
	for _, id := range advised.IDs() {
		name := caps.KubernetesName(id)
		status, err := verifyRun(r, spec, advised&^caps.Set(0).With(id), "all advised but "+name, stderr)
		if err != nil {
			return nil, err
		}
		v.Without = append(v.Without, profile.WithoutRun{Name: name, Exit: status, Necessary: status != recorded})
	}
	return v, nil
}

// verifyRun runs spec's command with capabilities set, its output
// discarded, and returns how it exited.
func verifyRun(r *cgroup.Resolver, spec launchSpec, set caps.Set, what string, stderr io.Writer) (string, error) {
	cg, err := r.Create("capprof-verify")
	if err != nil {
		return "", fmt.Errorf("verify: %w", err)
	}
	defer cg.Remove()
	spec.caps = set
	status, interrupted, err := runLaunched(spec, cg, nil, nil, nil)
	if err != nil {
		return "", fmt.Errorf("verify: %w", err)
	}
	if interrupted {
		return "", errVerifyInterrupted
	}
	fmt.Fprintf(stderr, "capprof run: verify with %s: %s\n", what, status)
	return status, nil
}
