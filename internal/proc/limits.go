package proc

import (
	"strings"
	"unicode/utf8"
)

const (
	// maxArgsBytes bounds the memory a single process's argv can take: the
	// cache holds up to MaxEntries processes, and argv can be megabytes.
	maxArgsBytes = 4 << 10
	// maxPathBytes matches PATH_MAX: the kernel does not resolve longer
	// paths, so anything beyond it is not worth the memory.
	maxPathBytes = 4 << 10
)

// capArgs returns a copy of args that uses at most maxArgsBytes. Each argument
// counts its length plus one, as it would in /proc/<pid>/cmdline: without the
// extra byte a huge number of empty arguments would escape the bound. The
// argument that crosses the limit is truncated and the rest are dropped.
// The copy also means the cache never aliases a slice the caller may reuse.
func capArgs(args []string) []string {
	if len(args) == 0 {
		return nil
	}
	out := make([]string, 0, len(args))
	budget := maxArgsBytes
	for _, a := range args {
		if budget <= 0 {
			break
		}
		if len(a)+1 > budget {
			// budget-1 leaves room for the argument's own terminator.
			out = append(out, truncate(a, budget-1))
			break
		}
		out = append(out, a)
		budget -= len(a) + 1
	}
	return out
}

// capPath bounds a path to maxPathBytes.
func capPath(p string) string {
	return truncate(p, maxPathBytes)
}

// truncate shortens s to at most n bytes without splitting a UTF-8 sequence,
// because a cut rune would turn a valid string into one that encoders such as
// protobuf reject. The result is cloned so that it does not pin the (possibly
// large) original in memory.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	cut := n
	// A sequence is at most utf8.UTFMax bytes long; looking further back
	// only happens on invalid UTF-8, where any cut is as good as another.
	for i := 0; i < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(s[cut]); i++ {
		cut--
	}
	if !utf8.RuneStart(s[cut]) {
		cut = n
	}
	return strings.Clone(s[:cut])
}
