package proc

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// argsBytes counts argv the way capArgs does.
func argsBytes(args []string) int {
	n := 0
	for _, a := range args {
		n += len(a) + 1
	}
	return n
}

func TestCapArgs(t *testing.T) {
	long := strings.Repeat("x", maxArgsBytes)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "nil", args: nil, want: nil},
		{name: "empty", args: []string{}, want: nil},
		{name: "small", args: []string{"ls", "-l"}, want: []string{"ls", "-l"}},
		{
			name: "exactly at the limit",
			args: []string{strings.Repeat("y", maxArgsBytes-1)},
			want: []string{strings.Repeat("y", maxArgsBytes-1)},
		},
		{
			name: "crossing argument is truncated, rest dropped",
			args: []string{"cmd", long, "after"},
			want: []string{"cmd", long[:maxArgsBytes-len("cmd")-2]},
		},
		{
			name: "many empty arguments are bounded",
			args: make([]string, 3*maxArgsBytes),
			want: make([]string, maxArgsBytes),
		},
		{
			name: "no room left for the next argument",
			args: []string{strings.Repeat("z", maxArgsBytes-1), "next"},
			want: []string{strings.Repeat("z", maxArgsBytes-1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := capArgs(tt.args)
			if !slices.Equal(got, tt.want) {
				t.Errorf("capArgs() = %d args (%d bytes), want %d args (%d bytes)",
					len(got), argsBytes(got), len(tt.want), argsBytes(tt.want))
			}
			if n := argsBytes(got); n > maxArgsBytes {
				t.Errorf("capArgs() kept %d bytes, limit %d", n, maxArgsBytes)
			}
		})
	}
}

func TestCapArgsCopies(t *testing.T) {
	in := []string{"a", "b"}
	out := capArgs(in)
	in[0] = "changed"
	if out[0] != "a" {
		t.Errorf("capArgs aliases its input: out[0] = %q", out[0])
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		name string
		s    string
		n    int
		want string
	}{
		{name: "short", s: "abc", n: 5, want: "abc"},
		{name: "exact", s: "abc", n: 3, want: "abc"},
		{name: "cut", s: "abcdef", n: 3, want: "abc"},
		{name: "zero", s: "abc", n: 0, want: ""},
		{name: "does not split a rune", s: "aé", n: 2, want: "a"},
		{name: "keeps a whole rune", s: "éa", n: 2, want: "é"},
		{name: "four byte rune", s: "a😀", n: 4, want: "a"},
		{name: "invalid utf-8 cuts at n", s: "a\x80\x80\x80\x80\x80", n: 5, want: "a\x80\x80\x80\x80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := truncate(tt.s, tt.n)
			if got != tt.want {
				t.Errorf("truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
			}
			if utf8.ValidString(tt.s) && !utf8.ValidString(got) {
				t.Errorf("truncate(%q, %d) = %q is not valid UTF-8", tt.s, tt.n, got)
			}
		})
	}
}

func TestExecID(t *testing.T) {
	tests := []struct {
		name   string
		node   string
		bootNS uint64
		pid    uint32
		want   string
	}{
		{name: "typical", node: "node1", bootNS: 123456789, pid: 42, want: "node1:123456789:42"},
		{name: "empty node", node: "", bootNS: 0, pid: 1, want: ":0:1"},
		{name: "max values", node: "n", bootNS: 1<<64 - 1, pid: 1<<32 - 1, want: "n:18446744073709551615:4294967295"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := execID(tt.node, tt.bootNS, tt.pid)
			if want := base64.RawStdEncoding.EncodeToString([]byte(tt.want)); got != want {
				t.Errorf("execID() = %q, want %q", got, want)
			}
			if strings.ContainsRune(got, '=') {
				t.Errorf("execID() = %q has padding", got)
			}
		})
	}
}
