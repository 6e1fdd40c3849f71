package profile

import (
	"bufio"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/capprof/capprof/internal/caps"
)

// labelWidth aligns the labels of a profile block ("namespaced" is the
// longest).
const labelWidth = 11

// writeTable writes one block per profile for people: what was seen, a table
// of the capabilities with their counts and verdicts, then the advice and the
// evidence behind it.
func writeTable(w *bufio.Writer, profiles []Profile) error {
	if len(profiles) == 0 {
		w.WriteString("no capability checks\n")
		return nil
	}
	for i := range profiles {
		if i > 0 {
			w.WriteByte('\n')
		}
		writeTableProfile(w, &profiles[i])
	}
	return nil
}

func writeTableProfile(w *bufio.Writer, p *Profile) {
	w.WriteString(oneLine(p.ID) + "\n")
	line := func(label, text string) {
		fmt.Fprintf(w, "  %-*s %s\n", labelWidth, label, oneLine(text))
	}
	lines := func(label string, texts []string) {
		for _, t := range texts {
			line(label, t)
			label = ""
		}
	}

	line("window", formatTime(p.FirstSeen)+" .. "+formatTime(p.LastSeen)+" ("+p.LastSeen.Sub(p.FirstSeen).String()+")")
	line("checks", strconv.FormatUint(p.Checks, 10)+" in "+plural(p.Observations, "record"))
	if p.Stopped != "" {
		line("stopped", p.Stopped)
	}
	if len(p.Hosts) > 0 {
		line("hosts", truncList(p.Hosts, p.HostsTruncated))
	}
	if len(p.Images) > 0 {
		line("images", truncList(p.Images, p.ImagesTruncated))
	}
	held := heldSet(p)
	line("holds", holdsText(held))
	if d := p.Declared; d != nil {
		line("declared", declaredText(d, p.Advice.Diff))
	}
	w.WriteByte('\n')

	writeCapTable(w, p.Capabilities)
	w.WriteByte('\n')

	a := &p.Advice
	line("advice", "drop "+strings.Join(a.Drop, ", ")+"; add "+commaList(a.Add))
	line("pss level", a.PSSLevel)
	lines("needed", evidenceLines(p, a.Add, EvidenceOwn, ""))
	line("unused", unusedText(held, a))
	lines("namespaced", evidenceLines(p, a.Namespaced, EvidenceNamespaced,
		": in a user namespace the workload owns, not needed in the securityContext"))
	lines("denied", evidenceLines(p, a.Denied, EvidenceOwn, ": attempted and denied, not added (decide yourself)"))
	lines("ignored", ignoredLines(p))
	if a.Diff != nil {
		line("diff", a.Diff.Text())
	}
	lines("verify", verificationLines(p))
}

// writeCapTable writes the capabilities with their counts right-aligned
// and their verdicts.
func writeCapTable(w *bufio.Writer, cs []Capability) {
	head := [...]string{"CAPABILITY", "GRANTED", "DENIED", "IGNORED", "VERDICT"}
	rows := make([][5]string, len(cs))
	width := [5]int{}
	for i, h := range head {
		width[i] = len(h)
	}
	for i := range cs {
		c := &cs[i]
		rows[i] = [5]string{c.Name, strconv.FormatUint(c.Granted, 10), strconv.FormatUint(c.Denied, 10),
			strconv.FormatUint(c.Ignored, 10), verdictText(c)}
		for j := range 4 {
			width[j] = max(width[j], len(rows[i][j]))
		}
	}
	row := func(r [5]string) {
		fmt.Fprintf(w, "  %-*s  %*s  %*s  %*s  %s\n", width[0], r[0], width[1], r[1], width[2], r[2], width[3], r[3], r[4])
	}
	row(head)
	for _, r := range rows {
		row(r)
	}
}

// plural writes "1 record", "2 records".
func plural(n uint64, noun string) string {
	s := strconv.FormatUint(n, 10) + " " + noun
	if n != 1 {
		s += "s"
	}
	return s
}

// heldSet is the profile's effective set.
func heldSet(p *Profile) caps.Set {
	s, _ := caps.ParseSet(strings.Join(p.Effective, ","))
	return s
}

// allKnown is every capability caps knows.
var allKnown, _ = caps.ParseSet(all)

// holdsText lists the held capabilities as Kubernetes names, sorted like the
// advice, or says "ALL" for a set that holds every one (root on the host, a
// privileged container).
func holdsText(held caps.Set) string {
	if held&allKnown == allKnown {
		return "ALL"
	}
	return commaList(k8sNames(held))
}

// unusedText lists the unused capabilities; for a set holding every
// capability, "ALL but" the needed ones reads better than 40 names.
func unusedText(held caps.Set, a *Advice) string {
	if held&allKnown == allKnown && len(a.Add) > 0 {
		return "ALL but " + strings.Join(a.Add, ", ")
	}
	if held&allKnown == allKnown {
		return "ALL"
	}
	return commaList(a.Unused)
}

// k8sNames returns the Kubernetes names of a set, sorted by name.
func k8sNames(s caps.Set) []string {
	var out []string
	for _, id := range s.IDs() {
		out = append(out, caps.KubernetesName(id))
	}
	slices.Sort(out)
	return out
}

// formatTime writes a time in its own location, to the second; "-" for the
// zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// truncList joins names, with ", ..." when the list was cut.
func truncList(names []string, truncated bool) string {
	s := strings.Join(names, ", ")
	if truncated {
		s += ", ..."
	}
	return s
}

// verdictText is the table's verdict column.
func verdictText(c *Capability) string {
	switch c.Verdict {
	case VerdictIgnored:
		reasons := c.ignoredReasons()
		for i, r := range reasons {
			reasons[i] = reasonText(r)
		}
		return "ignored: " + strings.Join(reasons, ", ")
	case VerdictNeeded:
		if own, _ := c.EvidenceOf(EvidenceOwn); own.AuditUnknown > 0 {
			return fmt.Sprintf("needed (audit unknown: %d of %d checks)", own.AuditUnknown, own.Granted+own.Denied)
		}
	}
	return c.Verdict
}

// evidenceLines writes, for each named capability, who made its checks of a
// class: "NET_BIND_SERVICE by /usr/sbin/nginx in bind", then suffix.
func evidenceLines(p *Profile, names []string, class, suffix string) []string {
	if len(names) == 0 {
		return []string{"none"}
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		s := n
		if e, ok := evidenceByName(p, n, class); ok {
			if len(e.Executables) > 0 {
				s += " by " + truncList(e.Executables, e.ExecutablesTruncated)
			}
			if len(e.Syscalls) > 0 {
				s += " in " + truncList(e.Syscalls, e.SyscallsTruncated)
			}
		}
		out = append(out, s+suffix)
	}
	return out
}

// evidenceByName finds the evidence of a class of the capability with the
// Kubernetes name n.
func evidenceByName(p *Profile, n, class string) (Evidence, bool) {
	for i := range p.Capabilities {
		c := &p.Capabilities[i]
		if c.Name == "CAP_"+n {
			return c.EvidenceOf(class)
		}
	}
	return Evidence{}, false
}

// ignoredLines sums the ignored checks by reason, in rule order:
// "not audited: SYS_ADMIN (4000), ...". "none" when nothing was ignored.
func ignoredLines(p *Profile) []string {
	var out []string
	for c := ClassRuntimeSetup; c < numClasses; c++ {
		var parts []string
		for i := range p.Capabilities {
			if e, ok := p.Capabilities[i].EvidenceOf(c.Reason()); ok {
				parts = append(parts, fmt.Sprintf("%s (%d)", strings.TrimPrefix(p.Capabilities[i].Name, "CAP_"), e.Granted+e.Denied))
			}
		}
		if len(parts) > 0 {
			out = append(out, reasonText(c.Reason())+": "+strings.Join(parts, ", "))
		}
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

// declaredText describes a declared securityContext and its PSS level.
func declaredText(d *Declared, df *Diff) string {
	s := "add " + commaList(d.Add) + "; drop " + commaList(d.Drop)
	if d.Privileged != nil {
		s += "; privileged " + strconv.FormatBool(*d.Privileged)
	}
	if df != nil {
		s += " (Pod Security Standards: " + df.DeclaredPSSLevel + ")"
	}
	return s
}

// Text says what to change in the declared securityContext.
func (d *Diff) Text() string {
	if d.Matches {
		return "none: the declared securityContext is the advice"
	}
	var parts []string
	if len(d.Add) > 0 {
		parts = append(parts, "add "+strings.Join(d.Add, ", "))
	}
	if len(d.Drop) > 0 {
		parts = append(parts, "remove "+strings.Join(d.Drop, ", ")+" from add")
	}
	if d.DropAllMissing {
		parts = append(parts, "add ALL to drop")
	}
	if d.PrivilegedDeclared {
		parts = append(parts, "set privileged: false")
	}
	return strings.Join(parts, "; ")
}
