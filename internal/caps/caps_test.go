package caps

import (
	"bufio"
	"github.com/capprof/capprof/internal/prereq"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestName(t *testing.T) {
	tests := []struct {
		name string
		id   int
		want string
	}{
		{name: "first", id: 0, want: "CAP_CHOWN"},
		{name: "syslog", id: 34, want: "CAP_SYSLOG"},
		{name: "sys admin", id: 21, want: "CAP_SYS_ADMIN"},
		{name: "last known", id: Last, want: "CAP_CHECKPOINT_RESTORE"},
		{name: "unknown after last", id: Last + 1, want: "CAP_41"},
		{name: "highest bit", id: 63, want: "CAP_63"},
		{name: "beyond set width", id: 64, want: "CAP_64"},
		{name: "negative", id: -1, want: "CAP_-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Name(tt.id); got != tt.want {
				t.Errorf("Name(%d) = %q, want %q", tt.id, got, tt.want)
			}
		})
	}
}

func TestKubernetesName(t *testing.T) {
	tests := []struct {
		name string
		id   int
		want string
	}{
		{name: "syslog", id: 34, want: "SYSLOG"},
		{name: "net bind", id: 10, want: "NET_BIND_SERVICE"},
		{name: "unknown", id: 50, want: "50"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KubernetesName(tt.id); got != tt.want {
				t.Errorf("KubernetesName(%d) = %q, want %q", tt.id, got, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr string // substring of the error; "" means success
	}{
		{name: "full upper", in: "CAP_SYSLOG", want: 34},
		{name: "full lower", in: "cap_syslog", want: 34},
		{name: "mixed case", in: "Cap_SysLog", want: 34},
		{name: "bare upper", in: "SYSLOG", want: 34},
		{name: "bare lower", in: "syslog", want: 34},
		{name: "underscore name", in: "sys_admin", want: 21},
		{name: "first", in: "CAP_CHOWN", want: 0},
		{name: "last known", in: "checkpoint_restore", want: Last},
		{name: "number", in: "34", want: 34},
		{name: "zero", in: "0", want: 0},
		{name: "leading zeros", in: "007", want: 7},
		{name: "unknown number", in: "63", want: 63},
		{name: "name of unknown number", in: "CAP_63", want: 63},
		{name: "prefixed known number", in: "cap_34", want: 34},
		{name: "surrounding spaces", in: "  syslog ", want: 34},
		{name: "bogus name", in: "CAP_BOGUS", wantErr: `"CAP_BOGUS": unknown name`},
		{name: "empty", in: "", wantErr: "empty name"},
		{name: "prefix only", in: "CAP_", wantErr: `"CAP_": empty name`},
		{name: "double prefix", in: "CAP_CAP_SYSLOG", wantErr: "unknown name"},
		{name: "too large", in: "64", wantErr: `"64": number out of range 0..63`},
		{name: "prefixed too large", in: "CAP_64", wantErr: "out of range"},
		{name: "overflow", in: "99999999999999999999999", wantErr: "not a decimal number"},
		{name: "negative", in: "-1", wantErr: `"-1": negative number`},
		{name: "plus sign", in: "+5", wantErr: "not a decimal number"},
		{name: "trailing garbage", in: "12a", wantErr: "not a decimal number"},
		{name: "hex", in: "0x22", wantErr: "not a decimal number"},
		{name: "inner space", in: "CAP_ SYSLOG", wantErr: "unknown name"},
		{name: "unicode fold look-alike", in: "ſyslog", wantErr: "unknown name"},
		{name: "all is only for sets", in: "all", wantErr: "unknown name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Parse(%q) = %d, want error containing %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q) unexpected error: %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

// TestParseInvertsName checks every number a Set can hold, known or not.
func TestParseInvertsName(t *testing.T) {
	for id := 0; id <= maxID; id++ {
		for _, s := range []string{Name(id), KubernetesName(id), strings.ToLower(Name(id))} {
			got, err := Parse(s)
			if err != nil || got != id {
				t.Errorf("Parse(%q) = %d, %v; want %d, nil", s, got, err, id)
			}
		}
	}
}

// TestNamesMatchHeader compares the hand-written table with the kernel UAPI
// header installed by linux-libc-dev, when there is one, to catch typos.
func TestNamesMatchHeader(t *testing.T) {
	const header = "/usr/include/linux/capability.h"
	f, err := os.Open(header)
	if os.IsNotExist(err) {
		prereq.Missing(t, "%s (Debian package linux-libc-dev)", header)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	seen := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 || fields[0] != "#define" || !strings.HasPrefix(fields[1], prefix) {
			continue
		}
		id, err := strconv.Atoi(fields[2])
		if err != nil || id > Last {
			continue // CAP_LAST_CAP, macros, or capabilities newer than this package
		}
		seen++
		if got := Name(id); got != fields[1] {
			t.Errorf("Name(%d) = %q, header says %q", id, got, fields[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", header, err)
	}
	if seen != Last+1 {
		t.Errorf("found %d capabilities 0..%d in %s, want %d", seen, Last, header, Last+1)
	}
}
