package tracer

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// fixtureRanges is what testdata/kallsyms.txt gives, in noauditCallers
// order. Each end is the next text symbol above the start: the __pfx_
// padding symbol of the next function where the kernel has them, never a
// same-address alias (.localalias), a data symbol or a module symbol.
var fixtureRanges = []AddrRange{
	{Start: 0xffffffff81a80b10, End: 0xffffffff81a80b50, Class: uint32(auditNo)},      // cap_vm_enough_memory
	{Start: 0xffffffff81a9c3e0, End: 0xffffffff81a9c440, Class: uint32(auditNo)},      // security_vm_enough_memory_mm
	{Start: 0xffffffff810b5d10, End: 0xffffffff810b5d30, Class: uint32(auditNo)},      // ns_capable_noaudit
	{Start: 0xffffffff810b5c20, End: 0xffffffff810b5c80, Class: uint32(auditNo)},      // has_ns_capability_noaudit
	{Start: 0xffffffff810b5c90, End: 0xffffffff810b5ca0, Class: uint32(auditNo)},      // has_capability_noaudit
	{Start: 0xffffffff810a7d80, End: 0xffffffff810a7dd0, Class: uint32(auditUnknown)}, // ptrace_has_cap
	{Start: 0xffffffff810a7de0, End: 0xffffffff810a7fa0, Class: uint32(auditUnknown)}, // __ptrace_may_access
}

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hideAddresses turns kallsyms text into what a reader without the right
// to see kernel addresses gets (kptr_restrict): every address is zero.
func hideAddresses(s string) string {
	return regexp.MustCompile(`(?m)^[0-9a-f]{16}`).ReplaceAllString(s, "0000000000000000")
}

func TestParseNoauditRanges(t *testing.T) {
	fixture := readFixture(t, "kallsyms.txt")
	tests := []struct {
		name    string
		input   string
		want    []AddrRange
		wantIs  error  // when set, errors.Is(err, wantIs) must hold
		wantErr string // when set, the error must contain it
	}{
		{
			name:  "fixture",
			input: fixture,
			want:  fixtureRanges,
		},
		{
			name:   "addresses hidden by kptr_restrict",
			input:  hideAddresses(fixture),
			wantIs: ErrKallsymsHidden,
		},
		{
			name: "inlined callers are left out",
			input: "ffffffff81000000 T _stext\n" +
				"ffffffff810b5d10 T ns_capable_noaudit\n" +
				"ffffffff810b5d40 T ns_capable_setid\n",
			want: []AddrRange{{Start: 0xffffffff810b5d10, End: 0xffffffff810b5d40, Class: uint32(auditNo)}},
		},
		{
			name: "a caller that is the last text symbol has no known end",
			input: "ffffffff81000000 T _stext\n" +
				"ffffffff81a80b10 T cap_vm_enough_memory\n" +
				"ffffffff83204d60 d after_the_text\n",
			want: nil,
		},
		{
			name: "only a module has the name",
			input: "ffffffff81000000 T _stext\n" +
				"ffffffffc0c01040 t ns_capable_noaudit\t[capfake]\n" +
				"ffffffffc0c01100 t init_module\t[capfake]\n",
			want: nil,
		},
		{
			name: "lower-case t is text",
			input: "ffffffff810a7d80 t ptrace_has_cap\n" +
				"ffffffff810a7dd0 t __pfx___ptrace_may_access\n",
			want: []AddrRange{{Start: 0xffffffff810a7d80, End: 0xffffffff810a7dd0, Class: uint32(auditUnknown)}},
		},
		{
			name: "short lines are skipped",
			input: "ffffffff81000000 T\n" +
				"\n" +
				"ffffffff810b5d10 T ns_capable_noaudit\n" +
				"ffffffff810b5d40 T ns_capable_setid\n",
			want: []AddrRange{{Start: 0xffffffff810b5d10, End: 0xffffffff810b5d40, Class: uint32(auditNo)}},
		},
		{
			name:  "empty",
			input: "",
			want:  nil,
		},
		{
			name: "malformed text address",
			input: "ffffffff81000000 T _stext\n" +
				"ffffffffzz0b5d10 T ns_capable_noaudit\n",
			wantErr: `parse kallsyms address "ffffffffzz0b5d10"`,
		},
		{
			name:    "address wider than 64 bits",
			input:   "1ffffffff81000000 T _stext\n",
			wantErr: "parse kallsyms address",
		},
		{
			name:    "line longer than the scanner buffer",
			input:   "ffffffff81000000 T " + strings.Repeat("x", 2<<20) + "\n",
			wantErr: "read kallsyms",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNoauditRanges(strings.NewReader(tt.input))
			switch {
			case tt.wantIs != nil:
				if !errors.Is(err, tt.wantIs) {
					t.Fatalf("error = %v, want %v", err, tt.wantIs)
				}
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
			default:
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
			}
			if err != nil {
				if got != nil {
					t.Errorf("ranges = %+v alongside error %v, want none", got, err)
				}
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ranges:\n got %s\nwant %s", formatRanges(got), formatRanges(tt.want))
			}
		})
	}
}

// TestParseNoauditRangesIgnoresDataSymbols checks that a data symbol with
// the name of a NOAUDIT caller neither starts nor ends a range.
func TestParseNoauditRangesIgnoresDataSymbols(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []AddrRange
	}{
		{
			name: "data symbol with a caller's name",
			input: "ffffffff82a1c0a0 D has_capability_noaudit\n" +
				"ffffffff83204d60 d cap_vm_enough_memory\n" +
				"ffffffff83a10000 b ptrace_has_cap\n" +
				"ffffffff8283f3c0 r __ksymtab_ns_capable_noaudit\n",
			want: nil,
		},
		{
			name: "data symbol inside a function does not end it",
			input: "ffffffff810a7de0 T __ptrace_may_access\n" +
				"ffffffff810a7e00 d __already_done.12\n" +
				"ffffffff810a7e10 D some_data\n" +
				"ffffffff810a7fa0 T __pfx_ptrace_may_access\n",
			want: []AddrRange{{Start: 0xffffffff810a7de0, End: 0xffffffff810a7fa0, Class: uint32(auditUnknown)}},
		},
		{
			name: "malformed address of a data symbol is not parsed",
			input: "nothex!! d junk\n" +
				"ffffffff810b5d10 T ns_capable_noaudit\n" +
				"ffffffff810b5d40 T ns_capable_setid\n",
			want: []AddrRange{{Start: 0xffffffff810b5d10, End: 0xffffffff810b5d40, Class: uint32(auditNo)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNoauditRanges(strings.NewReader(tt.input))
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ranges:\n got %s\nwant %s", formatRanges(got), formatRanges(tt.want))
			}
		})
	}
}

// TestNoauditCallersFitTheProgram checks that every caller can get a range
// and that they all fit in the program's table.
func TestNoauditCallersFitTheProgram(t *testing.T) {
	if len(noauditCallers) > maxNoauditRanges {
		t.Errorf("%d NOAUDIT callers, the program holds %d ranges", len(noauditCallers), maxNoauditRanges)
	}
	seen := map[string]bool{}
	for _, c := range noauditCallers {
		if seen[c.name] {
			t.Errorf("caller %s listed twice", c.name)
		}
		seen[c.name] = true
		if c.class != auditNo && c.class != auditUnknown {
			t.Errorf("caller %s has class %d, want AUDIT_NO or AUDIT_UNKNOWN", c.name, c.class)
		}
	}
	// The fixture has every caller, so it yields one range per caller.
	if len(fixtureRanges) != len(noauditCallers) {
		t.Errorf("fixture has %d ranges for %d callers", len(fixtureRanges), len(noauditCallers))
	}
}

func formatRanges(rs []AddrRange) string {
	if len(rs) == 0 {
		return "[]"
	}
	var b strings.Builder
	for _, r := range rs {
		b.WriteString("\n  ")
		b.WriteString(formatRange(r))
	}
	return b.String()
}

func formatRange(r AddrRange) string {
	return fmt.Sprintf("[%#x, %#x) class %d", r.Start, r.End, r.Class)
}
