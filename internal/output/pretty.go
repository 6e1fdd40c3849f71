package output

import (
	"fmt"
	"io"
	"path"
	"strconv"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/check"
)

// Column widths of the pretty format. They are fixed, not measured per
// batch, so that lines written by different Write calls line up.
const (
	prettyContainerWidth = 12 // short container ids, as docker ps shows them
	prettyExeWidth       = 16 // the kernel's comm is 15 bytes; longer names are cut
	prettyPIDWidth       = 7  // pid_max is at most 4194304
	prettyCapWidth       = 22 // len("CAP_CHECKPOINT_RESTORE")
	prettyVerdictWidth   = 7  // len("granted")
	prettyCountWidth     = 7  // "x" and six digits; more pushes "(noaudit)" right
)

// prettyWriter writes one aligned line per check for a terminal.
//
// The time is printed in the location of check.Time, not converted: the
// recorder stamps checks in local time, and tests stamp them in UTC so the
// golden file does not depend on the machine's time zone.
type prettyWriter struct {
	w      io.Writer
	buf    []byte
	closed bool
}

func (p *prettyWriter) Write(checks []check.Check) error {
	if p.closed {
		return errClosed
	}
	p.buf = p.buf[:0]
	for i := range checks {
		p.buf = appendPretty(p.buf, &checks[i])
	}
	if len(p.buf) == 0 {
		return nil
	}
	// One write per batch keeps lines whole when several writers share a
	// terminal.
	if _, err := p.w.Write(p.buf); err != nil {
		return fmt.Errorf("write pretty output: %w", err)
	}
	return nil
}

// Close marks the writer closed; every Write already wrote its lines.
func (p *prettyWriter) Close() error {
	p.closed = true
	return nil
}

func appendPretty(b []byte, c *check.Check) []byte {
	start := len(b)
	b = c.Time.AppendFormat(b, "15:04:05.000")
	b = append(b, "  "...)
	b = appendPadded(b, prettyContainer(c), prettyContainerWidth)
	b = append(b, "  "...)
	b = appendPadded(b, prettyExe(c), prettyExeWidth)
	b = append(b, ' ')
	b = appendRight(b, strconv.FormatUint(uint64(c.PID), 10), prettyPIDWidth)
	b = append(b, "  "...)
	b = appendPadded(b, caps.Name(c.Cap), prettyCapWidth)
	b = append(b, "  "...)
	b = appendPadded(b, c.Verdict(), prettyVerdictWidth)
	b = append(b, "  "...)
	count := ""
	if c.Count > 1 {
		count = "x" + strconv.FormatUint(c.Count, 10)
	}
	b = appendPadded(b, count, prettyCountWidth)
	if c.Audit == check.NotAudited {
		b = append(b, " (noaudit)"...)
	}
	// Padding of the last columns would otherwise leave trailing blanks.
	end := len(b)
	for end > start && b[end-1] == ' ' {
		end--
	}
	b = b[:end]
	return append(b, '\n')
}

func prettyContainer(c *check.Check) string {
	id := c.Container.ID
	if id == "" {
		return "host"
	}
	return id[:min(len(id), prettyContainerWidth)]
}

func prettyExe(c *check.Check) string {
	if c.Process.ExecutablePath == "" {
		return "pid " + strconv.FormatUint(uint64(c.PID), 10)
	}
	// Cut by bytes: executable names are ASCII in practice, and a cut name
	// still identifies the program next to its pid.
	name := path.Base(c.Process.ExecutablePath)
	return name[:min(len(name), prettyExeWidth)]
}

// appendPadded appends s left-aligned in width bytes. A longer s is kept
// whole (counts must stay exact); columns whose values can be long are cut
// before, by prettyContainer and prettyExe.
func appendPadded(b []byte, s string, width int) []byte {
	b = append(b, s...)
	for range width - len(s) {
		b = append(b, ' ')
	}
	return b
}

// appendRight appends s right-aligned in width bytes; numbers are never cut.
func appendRight(b []byte, s string, width int) []byte {
	for range width - len(s) {
		b = append(b, ' ')
	}
	return append(b, s...)
}
