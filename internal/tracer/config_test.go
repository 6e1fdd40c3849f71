package tracer

import (
	"strings"
	"testing"
)

func TestDefaultConfigIsValid(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		modify  func(*Config)
		wantErr string // "" = valid; otherwise the field's name as the user knows it
	}{
		{name: "default", modify: func(*Config) {}},
		{name: "concrete method", modify: func(c *Config) { c.Method = Kprobe }},
		{name: "unique mode", modify: func(c *Config) { c.Mode = Unique }},
		{name: "denied only", modify: func(c *Config) { c.Verdict = Denied }},
		{name: "granted only", modify: func(c *Config) { c.Verdict = Granted }},
		{name: "audited only", modify: func(c *Config) { c.Audit = Audited }},
		{name: "smallest ring buffer", modify: func(c *Config) { c.RingBufferSize = 4096 }},
		{name: "largest ring buffer", modify: func(c *Config) { c.RingBufferSize = 1 << 31 }},
		{name: "one dedup entry", modify: func(c *Config) { c.DedupEntries = 1 }},
		{name: "no wakeup threshold", modify: func(c *Config) { c.WakeupBytes = 0 }},
		{name: "all filters at their limit", modify: func(c *Config) {
			c.CgroupInclude = make([]string, MaxCgroupFilters)
			c.CgroupExclude = make([]string, MaxCgroupFilters)
			c.NoauditRanges = make([]AddrRange, maxNoauditRanges)
		}},

		{name: "zero config", modify: func(c *Config) { *c = Config{} }, wantErr: "attach"},
		{name: "empty method", modify: func(c *Config) { c.Method = "" }, wantErr: "attach"},
		{name: "unknown method", modify: func(c *Config) { c.Method = "uprobe" }, wantErr: "attach"},
		{name: "method in upper case", modify: func(c *Config) { c.Method = "KPROBE" }, wantErr: "attach"},
		{name: "empty mode", modify: func(c *Config) { c.Mode = "" }, wantErr: "mode"},
		{name: "unknown mode", modify: func(c *Config) { c.Mode = "batch" }, wantErr: "mode"},
		{name: "empty verdict", modify: func(c *Config) { c.Verdict = "" }, wantErr: "verdict"},
		{name: "unknown verdict", modify: func(c *Config) { c.Verdict = "maybe" }, wantErr: "verdict"},
		{name: "empty audit", modify: func(c *Config) { c.Audit = "" }, wantErr: "audit"},
		{name: "unknown audit", modify: func(c *Config) { c.Audit = "noaudit" }, wantErr: "audit"},
		{name: "zero ring buffer", modify: func(c *Config) { c.RingBufferSize = 0 }, wantErr: "ring buffer size"},
		{name: "ring buffer below a page", modify: func(c *Config) { c.RingBufferSize = 2048 }, wantErr: "ring buffer size"},
		{name: "ring buffer not a power of two", modify: func(c *Config) { c.RingBufferSize = 4097 }, wantErr: "ring buffer size"},
		{name: "ring buffer a multiple of pages only", modify: func(c *Config) { c.RingBufferSize = 3 << 20 }, wantErr: "ring buffer size"},
		{name: "zero dedup entries", modify: func(c *Config) { c.DedupEntries = 0 }, wantErr: "dedup entries"},
		{name: "too many include cgroups", modify: func(c *Config) {
			c.CgroupInclude = make([]string, MaxCgroupFilters+1)
		}, wantErr: "cgroups"},
		{name: "too many exclude cgroups", modify: func(c *Config) {
			c.CgroupExclude = make([]string, MaxCgroupFilters+1)
		}, wantErr: "cgroups"},
		{name: "too many noaudit ranges", modify: func(c *Config) {
			c.NoauditRanges = make([]AddrRange, maxNoauditRanges+1)
		}, wantErr: "noaudit ranges"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.modify(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error about %s", tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), tt.wantErr+":") {
				t.Errorf("Validate() = %q, want it to start with %q", err, tt.wantErr+":")
			}
		})
	}
}

// TestConfigValidateAllMethods checks every method ParseMethod accepts is
// valid in a Config.
func TestConfigValidateAllMethods(t *testing.T) {
	for _, m := range append([]Method{Auto}, Methods...) {
		t.Run(string(m), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Method = m
			if err := cfg.Validate(); err != nil {
				t.Errorf("Validate() with method %s = %v", m, err)
			}
		})
	}
}

func TestParseMethod(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Method
		wantErr bool
	}{
		{name: "auto", in: "auto", want: Auto},
		{name: "tp_btf", in: "tp_btf", want: TPBTF},
		{name: "raw_tracepoint", in: "raw_tracepoint", want: RawTracepoint},
		{name: "tracepoint", in: "tracepoint", want: Tracepoint},
		{name: "fexit", in: "fexit", want: Fexit},
		{name: "kprobe", in: "kprobe", want: Kprobe},
		{name: "empty", in: "", wantErr: true},
		{name: "upper case", in: "Auto", wantErr: true},
		{name: "kretprobe is not a method", in: "kretprobe", wantErr: true},
		{name: "fentry", in: "fentry", wantErr: true},
		{name: "padded", in: " kprobe", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMethod(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseMethod(%q) = %q, want an error", tt.in, got)
				}
				want := `unknown attach method "` + tt.in + `" (want auto, tp_btf, raw_tracepoint, tracepoint, fexit, kprobe)`
				if err.Error() != want {
					t.Errorf("error = %q, want %q", err, want)
				}
				if got != "" {
					t.Errorf("ParseMethod(%q) returned %q with its error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseMethod(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Mode
		wantErr bool
	}{
		{name: "stream", in: "stream", want: Stream},
		{name: "unique", in: "unique", want: Unique},
		{name: "empty", in: "", wantErr: true},
		{name: "upper case", in: "UNIQUE", wantErr: true},
		{name: "unknown", in: "batch", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMode(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseMode(%q) = %q, want an error", tt.in, got)
				}
				want := `unknown mode "` + tt.in + `" (want stream or unique)`
				if err.Error() != want {
					t.Errorf("error = %q, want %q", err, want)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseMode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseVerdict(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Verdict
		wantErr bool
	}{
		{name: "all", in: "all", want: AllVerdicts},
		{name: "denied", in: "denied", want: Denied},
		{name: "granted", in: "granted", want: Granted},
		{name: "empty", in: "", wantErr: true},
		{name: "singular", in: "deny", wantErr: true},
		{name: "upper case", in: "ALL", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseVerdict(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseVerdict(%q) = %q, want an error", tt.in, got)
				}
				want := `unknown verdict "` + tt.in + `" (want all, denied or granted)`
				if err.Error() != want {
					t.Errorf("error = %q, want %q", err, want)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseVerdict(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
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

func TestAuditText(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Audit
		wantErr bool
	}{
		{name: "all", in: "all", want: AllAudit},
		{name: "audited", in: "audited", want: Audited},
		{name: "empty", in: "", wantErr: true},
		{name: "upper case", in: "AUDITED", wantErr: true},
		{name: "the kernel's word", in: "noaudit", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Audit("unchanged")
			err := got.UnmarshalText([]byte(tt.in))
			if tt.wantErr {
				if err == nil || got != "unchanged" {
					t.Fatalf("UnmarshalText(%q) = %v, value %q; want an error, value unchanged", tt.in, err, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("UnmarshalText(%q) = %v, value %q; want %q", tt.in, err, got, tt.want)
			}
			if text, err := got.MarshalText(); err != nil || string(text) != tt.in {
				t.Errorf("MarshalText() = %q, %v; want %q", text, err, tt.in)
			}
		})
	}
}
