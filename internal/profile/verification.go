package profile

// Verification is what re-running a command under its advice showed
// (`capprof run --verify`): the command run again with exactly the advised
// capabilities, then once without each of them, as the same user. A run
// "exits as recorded" when its exit status (or terminating signal) is the
// recorded run's.
//
// The caller sets Profile.Verification after Builder.Profiles; the Builder
// neither makes nor restores it.
type Verification struct {
	// User is the uid:gid of the runs, the recorded run's.
	User string `json:"user"`
	// Recorded is how the recorded run exited ("exit status 0",
	// "signal: killed").
	Recorded string `json:"recorded"`
	// Advised is how the run with exactly Advice.Add exited.
	Advised string `json:"advised"`
	// Verified: the run with exactly the advised capabilities exited as
	// recorded.
	Verified bool `json:"verified"`
	// Without has one entry per advised capability, in Advice.Add's order.
	Without []WithoutRun `json:"without"`
}

// WithoutRun is the run with every advised capability but Name.
type WithoutRun struct {
	Name string `json:"name"` // Kubernetes name
	Exit string `json:"exit"`
	// Necessary: without it the command exited differently than recorded,
	// so the capability is proven necessary (for what this run did).
	Necessary bool `json:"necessary"`
}

// verificationLines is the verification in words, one line per run: the
// table format prints them under the advice, the others as comments.
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
	for _, w := range v.Without {
		if w.Necessary {
			lines = append(lines, w.Name+" proven necessary: without it, "+w.Exit)
		} else {
			lines = append(lines, w.Name+" not proven necessary: without it, "+w.Exit+" as well")
		}
	}
	return lines
}
