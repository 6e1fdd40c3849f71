package tracer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capprof/capprof/internal/caps"
)

// status is the head of a /proc/self/status; %s is replaced by the CapEff line.
const status = `Name:	capprof
Umask:	0022
State:	R (running)
Tgid:	4242
Pid:	4242
PPid:	4100
Uid:	0	0	0	0
Gid:	0	0	0	0
CapInh:	0000000000000000
CapPrm:	000001ffffffffff
%s
CapBnd:	000001ffffffffff
CapAmb:	0000000000000000
NoNewPrivs:	0
Seccomp:	0
`

func statusWith(capEff string) string {
	return strings.Replace(status, "%s\n", capEff, 1)
}

func TestParseCapEff(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    caps.Set
		wantErr string
	}{
		{name: "root", input: statusWith("CapEff:\t000001ffffffffff\n"), want: caps.Set(0x000001ffffffffff)},
		{name: "none", input: statusWith("CapEff:\t0000000000000000\n"), want: 0},
		{name: "bpf and perfmon", input: statusWith("CapEff:\t000000c000000000\n"),
			want: caps.Set(0).With(capBPF).With(capPerfmon)},
		{name: "spaces instead of a tab", input: "CapEff:   0000000000200000  \n", want: caps.Set(0).With(capSysAdmin)},
		{name: "last line without newline", input: "CapPrm:\t0\nCapEff:\t0000000000200000", want: caps.Set(0).With(capSysAdmin)},
		{name: "missing", input: statusWith(""), wantErr: "read capabilities: no CapEff line"},
		{name: "empty input", input: "", wantErr: "read capabilities: no CapEff line"},
		{name: "indented line is not the field", input: " CapEff:\t0000000000200000\n", wantErr: "no CapEff line"},
		{name: "malformed", input: statusWith("CapEff:\tnot-hex\n"), wantErr: `parse CapEff "\tnot-hex"`},
		{name: "empty value", input: statusWith("CapEff:\n"), wantErr: "parse CapEff"},
		{name: "wider than 64 bits", input: statusWith("CapEff:\t1000000000000000000\n"), wantErr: "parse CapEff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCapEff(strings.NewReader(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseCapEff = %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseCapEff = %#x, %v; want %#x", uint64(got), err, uint64(tt.want))
			}
		})
	}
}

func TestEffectiveCaps(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "status")
	if err := os.WriteFile(good, []byte(statusWith("CapEff:\t0000000000200000\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		want    caps.Set
		wantErr string
	}{
		{name: "file", path: good, want: caps.Set(0).With(capSysAdmin)},
		{name: "missing file", path: filepath.Join(dir, "absent"), wantErr: "read capabilities:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := effectiveCaps(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("effectiveCaps = %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("effectiveCaps = %#x, %v; want %#x", uint64(got), err, uint64(tt.want))
			}
		})
	}
}

// TestCheckPrivilegesAgreesWithItsSet holds for any user: the verdict follows
// from the returned set.
func TestCheckPrivilegesAgreesWithItsSet(t *testing.T) {
	eff, err := CheckPrivileges()
	enough := eff.Has(capSysAdmin) || (eff.Has(capBPF) && eff.Has(capPerfmon))
	switch {
	case enough && err != nil:
		t.Errorf("effective %s is enough, but CheckPrivileges = %v", eff, err)
	case !enough && !errors.Is(err, ErrPrivilege):
		t.Errorf("effective %s is not enough, but CheckPrivileges = %v, want ErrPrivilege", eff, err)
	}
}

func TestPrivilegeNames(t *testing.T) {
	tests := []struct {
		name string
		eff  caps.Set
		want string
	}{
		{name: "none", eff: 0, want: "none of CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF"},
		{name: "unrelated only", eff: caps.Set(0).With(0).With(34), want: "none of CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF"},
		{name: "sys_admin", eff: caps.Set(0).With(capSysAdmin), want: "CAP_SYS_ADMIN"},
		{name: "bpf and perfmon", eff: caps.Set(0).With(capBPF).With(capPerfmon), want: "CAP_PERFMON CAP_BPF"},
		{name: "root", eff: caps.Set(0x000001ffffffffff), want: "CAP_SYS_ADMIN CAP_PERFMON CAP_BPF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := privilegeNames(tt.eff); got != tt.want {
				t.Errorf("privilegeNames(%s) = %q, want %q", tt.eff, got, tt.want)
			}
		})
	}
}

func TestFinding(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		detail string
		want   Finding
	}{
		{name: "ok keeps the detail", detail: "/sys/kernel/btf/vmlinux", want: Finding{"btf", true, "/sys/kernel/btf/vmlinux"}},
		{name: "error replaces the detail", err: errors.New("no such file"), detail: "/sys/kernel/btf/vmlinux",
			want: Finding{"btf", false, "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := finding("btf", tt.err, tt.detail); got != tt.want {
				t.Errorf("finding = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestBpffsMounted(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{name: "ordinary directory", path: dir, wantErr: dir + " is not a bpf filesystem"},
		{name: "missing directory", path: filepath.Join(dir, "absent"), wantErr: "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := bpffsMounted(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("bpffsMounted(%s) = %v, want an error containing %q", tt.path, err, tt.wantErr)
			}
		})
	}
}
