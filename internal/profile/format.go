package profile

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/capprof/capprof/internal/caps"
)

// Format names an output format of Write.
type Format string

// The formats Write knows.
const (
	// FormatTable is for people: per profile, its key, window and checks, a
	// table of capabilities with their verdicts, then the advice.
	FormatTable Format = "table"
	// FormatYAML is a ready-to-paste securityContext fragment per profile.
	FormatYAML Format = "yaml"
	// FormatPatch is a strategic-merge patch per Kubernetes workload, for
	// kubectl patch --type strategic.
	FormatPatch Format = "patch"
	// FormatDocker is docker run's --cap-drop/--cap-add flags per profile.
	FormatDocker Format = "docker"
	// FormatSystemd is CapabilityBoundingSet= and AmbientCapabilities= per
	// host profile.
	FormatSystemd Format = "systemd"
	// FormatJSON is every profile with all its evidence (docs/profiles.md).
	FormatJSON Format = "json"
	// FormatVAP is a ValidatingAdmissionPolicy and binding per Kubernetes
	// workload container: its pods may add only the proven capabilities
	// and must drop ALL.
	FormatVAP Format = "vap"
	// FormatKyverno is the same rules as a Kyverno Policy.
	FormatKyverno Format = "kyverno"
)

// formats is the list ParseFormat accepts, in the order its error names them.
var formats = [...]Format{FormatTable, FormatYAML, FormatPatch, FormatDocker, FormatSystemd, FormatJSON, FormatVAP, FormatKyverno}

// Formats returns the format names, for flag help.
func Formats() []string {
	out := make([]string, len(formats))
	for i, f := range formats {
		out[i] = string(f)
	}
	return out
}

// ParseFormat parses a format name; the error lists the valid names.
func ParseFormat(s string) (Format, error) {
	for _, f := range formats {
		if s == string(f) {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown profile format %q (valid: %s)", s, strings.Join(Formats(), ", "))
}

// Write writes profiles (as Builder.Profiles returns them) in format f.
func Write(w io.Writer, f Format, profiles []Profile) error {
	var write func(*bufio.Writer, []Profile) error
	switch f {
	case FormatTable:
		write = writeTable
	case FormatYAML:
		write = writeYAML
	case FormatPatch:
		write = writePatch
	case FormatDocker:
		write = writeDocker
	case FormatSystemd:
		write = writeSystemd
	case FormatJSON:
		write = writeJSON
	case FormatVAP:
		write = writeVAP
	case FormatKyverno:
		write = writeKyverno
	default:
		_, err := ParseFormat(string(f))
		return fmt.Errorf("write profiles: %w", err)
	}
	bw := bufio.NewWriter(w)
	if err := write(bw, profiles); err != nil {
		return fmt.Errorf("write %s profiles: %w", f, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s profiles: %w", f, err)
	}
	return nil
}

// oneLine makes s safe for a one-line comment or table cell: control
// characters (newlines above all) become spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// commaList joins names with ", ", or says "none".
func commaList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// capNames turns Kubernetes names back into "CAP_" names, for systemd.
func capNames(k8sNames []string) []string {
	out := make([]string, 0, len(k8sNames))
	for _, n := range k8sNames {
		if id, err := caps.Parse(n); err == nil {
			out = append(out, caps.Name(id))
		} else {
			out = append(out, "CAP_"+n)
		}
	}
	return out
}

// adviceNotes are the comment lines the Kubernetes and docker formats put
// before a profile's advice: the key, the PSS level, and what was left out
// and why, so that nobody pastes it blind.
func adviceNotes(p *Profile) []string {
	notes := []string{p.ID, "Pod Security Standards: " + p.Advice.PSSLevel}
	notes = append(notes, leftOutNotes(p)...)
	if d := p.Advice.Diff; d != nil {
		notes = append(notes, "from the declared securityContext: "+d.Text())
	}
	return append(notes, verificationLines(p)...)
}

// leftOutNotes says which capabilities the advice leaves out, or adds on
// weaker evidence.
func leftOutNotes(p *Profile) []string {
	var notes []string
	if p.Stopped != "" {
		notes = append(notes, "stopped: "+p.Stopped)
	}
	a := &p.Advice
	if len(a.Denied) > 0 {
		notes = append(notes, "attempted and denied, not added (decide yourself): "+strings.Join(a.Denied, ", "))
	}
	if len(a.AuditUnknown) > 0 {
		notes = append(notes, "audit flag unknown for some checks of: "+strings.Join(a.AuditUnknown, ", "))
	}
	return notes
}

// writeComments writes lines as "# " comments.
func writeComments(w *bufio.Writer, lines []string) {
	for _, l := range lines {
		w.WriteString("# ")
		w.WriteString(oneLine(l))
		w.WriteByte('\n')
	}
}
