// Package report renders capability profiles as one self-contained HTML
// page (`capprof report`): a heat map of workloads × capabilities coloured
// by verdict, each workload's advice (the securityContext to paste, its Pod
// Security Standards level, the diff against the declared one and the
// verification of `capprof run --verify`), the denied attempts with their
// executables and syscalls, a timeline of checks per capability, and what
// the recording cannot tell (window, audit unknown, lost events).
//
// The page needs no network to be read: its script, style and data are
// inlined. The data is a compact JSON model (model.go) that the script
// turns into SVG and HTML when the page loads; SVG drawn in the browser
// rather than written out keeps 2,000 workloads × 41 capabilities within a
// few megabytes (docs/report.md has the figures and how to measure them).
//
// A [Report] wraps a profile.Builder: it takes the same observations, plus
// profiles read back from `capprof run --format json` (which alone carry a
// verification), and keeps per-second check counts for the timeline.
// Like the Builder it is not safe for concurrent use.
package report
