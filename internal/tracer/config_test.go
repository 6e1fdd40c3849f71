package tracer

import (
	"encoding"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/capprof/capprof/bpf"
	"github.com/capprof/capprof/internal/config"
)

// setting is what the shells need of a typed setting: it decodes itself
// (confmap, flag.TextVar) and encodes itself (a flag's default, a printed
// configuration).
type setting interface {
	encoding.TextMarshaler
	encoding.TextUnmarshaler
	Validate() error
}

func TestSettingsText(t *testing.T) {
	tests := []struct {
		name    string
		decode  func() setting // a fresh value to decode into
		text    string
		wantErr string // "" = text names a value that encodes back to text
	}{
		{name: "auto", decode: func() setting { return new(Method) }, text: "auto"},
		{name: "tp_btf", decode: func() setting { return new(Method) }, text: "tp_btf"},
		{name: "raw_tracepoint", decode: func() setting { return new(Method) }, text: "raw_tracepoint"},
		{name: "tracepoint", decode: func() setting { return new(Method) }, text: "tracepoint"},
		{name: "fexit", decode: func() setting { return new(Method) }, text: "fexit"},
		{name: "kprobe", decode: func() setting { return new(Method) }, text: "kprobe"},
		{name: "kretprobe is not a method", decode: func() setting { return new(Method) }, text: "kretprobe",
			wantErr: `"kretprobe" is not auto, tp_btf, raw_tracepoint, tracepoint, fexit or kprobe`},
		{name: "method in upper case", decode: func() setting { return new(Method) }, text: "KPROBE",
			wantErr: `"KPROBE" is not auto, tp_btf, raw_tracepoint, tracepoint, fexit or kprobe`},
		{name: "stream", decode: func() setting { return new(Mode) }, text: "stream"},
		{name: "unique", decode: func() setting { return new(Mode) }, text: "unique"},
		{name: "empty mode", decode: func() setting { return new(Mode) }, text: "", wantErr: `"" is not stream or unique`},
		{name: "all", decode: func() setting { return new(Verdict) }, text: "all"},
		{name: "denied", decode: func() setting { return new(Verdict) }, text: "denied"},
		{name: "granted", decode: func() setting { return new(Verdict) }, text: "granted"},
		{name: "singular verdict", decode: func() setting { return new(Verdict) }, text: "deny", wantErr: `"deny" is not all, denied or granted`},
		{name: "all", decode: func() setting { return new(Audit) }, text: "all"},
		{name: "audited", decode: func() setting { return new(Audit) }, text: "audited"},
		{name: "noaudit is not a setting", decode: func() setting { return new(Audit) }, text: "noaudit", wantErr: `"noaudit" is not all or audited`},
		{name: "audit in upper case", decode: func() setting { return new(Audit) }, text: "AUDITED", wantErr: `"AUDITED" is not all or audited`},
		{name: "empty audit", decode: func() setting { return new(Audit) }, text: "", wantErr: `"" is not all or audited`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.decode()
			err := v.UnmarshalText([]byte(tt.text))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("UnmarshalText(%q) = %v, want %q", tt.text, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("UnmarshalText(%q) = %v", tt.text, err)
			}
			if err := v.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
			if got, err := v.MarshalText(); err != nil || string(got) != tt.text {
				t.Errorf("MarshalText() = %q, %v; want %q", got, err, tt.text)
			}
		})
	}
}

func TestSettingsValidate(t *testing.T) {
	tests := []struct {
		name  string
		value interface {
			encoding.TextMarshaler
			Validate() error
		}
		wantErr string
	}{
		{name: "empty method", value: Method(""), wantErr: `"" is not auto, tp_btf, raw_tracepoint, tracepoint, fexit or kprobe`},
		{name: "unknown mode", value: Mode(7), wantErr: "0x7 is not stream or unique"},
		{name: "unknown verdict", value: Verdict(3), wantErr: "0x3 is not all, denied or granted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.value.Validate(); err == nil || err.Error() != tt.wantErr {
				t.Errorf("Validate() = %v, want %q", err, tt.wantErr)
			}
			if _, err := tt.value.MarshalText(); err == nil {
				t.Errorf("MarshalText() of an unnamed value succeeded")
			}
		})
	}
}

// TestSettingsAreTheProgramsEnums checks the names of Mode and Verdict
// against the C enums whose values they are: each member has the Go name
// its C name ends in, and no Go name lacks a member.
func TestSettingsAreTheProgramsEnums(t *testing.T) {
	spec, err := bpf.LoadCapprof()
	if err != nil {
		t.Fatalf("load spec: %v", err)
	}
	tests := []struct {
		name   string
		enum   string
		prefix string
		names  map[uint64]string
	}{
		{name: "mode", enum: "mode", prefix: "MODE_", names: namesOf(modes)},
		{name: "verdict", enum: "verdict_filter", prefix: "VERDICT_", names: namesOf(verdicts)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var enum *btf.Enum
			if err := spec.Types.TypeByName(tt.enum, &enum); err != nil {
				t.Fatalf("enum %s: %v", tt.enum, err)
			}
			if len(enum.Values) != len(tt.names) {
				t.Errorf("enum %s has %d members, Go names %d", tt.enum, len(enum.Values), len(tt.names))
			}
			for _, m := range enum.Values {
				want := strings.ToLower(strings.TrimPrefix(m.Name, tt.prefix))
				if got := tt.names[m.Value]; got != want {
					t.Errorf("%s = %d is named %q in Go, want %q", m.Name, m.Value, got, want)
				}
			}
		})
	}
}

func namesOf[T Mode | Verdict](ns config.Names[T]) map[uint64]string {
	out := map[uint64]string{}
	for _, n := range ns {
		out[uint64(n.Value)] = n.Name
	}
	return out
}

// TestLimitsAreTheObjects checks the limits the Go side mirrors against the
// object: the cgroup filter maps' entries and noaudit_ranges' length.
func TestLimitsAreTheObjects(t *testing.T) {
	spec, err := bpf.LoadCapprof()
	if err != nil {
		t.Fatalf("load spec: %v", err)
	}
	for _, name := range []string{bpf.CapprofMapCgroupInclude, bpf.CapprofMapCgroupExclude} {
		if got := spec.Maps[name].MaxEntries; got != MaxCgroupFilters {
			t.Errorf("map %s holds %d cgroups, MaxCgroupFilters is %d", name, got, MaxCgroupFilters)
		}
	}
	size := spec.Variables[bpf.CapprofVarNoauditRanges].Size()
	if got := int(size) / binary.Size(AddrRange{}); got != maxNoauditRanges {
		t.Errorf("noaudit_ranges holds %d ranges, maxNoauditRanges is %d", got, maxNoauditRanges)
	}
}

func TestMethodSeesOpts(t *testing.T) {
	tests := []struct {
		name   string
		method Method
		want   bool
	}{
		{name: "auto", method: Auto, want: false},
		{name: "tp_btf", method: TPBTF, want: false},
		{name: "raw_tracepoint", method: RawTracepoint, want: false},
		{name: "tracepoint", method: Tracepoint, want: false},
		{name: "fexit", method: Fexit, want: true},
		{name: "kprobe", method: Kprobe, want: true},
		{name: "unknown", method: "uprobe", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.method.SeesOpts(); got != tt.want {
				t.Errorf("%q.SeesOpts() = %v, want %v", tt.method, got, tt.want)
			}
		})
	}
}
