package caps

import (
	"slices"
	"strings"
	"testing"
)

func TestSetHasWith(t *testing.T) {
	tests := []struct {
		name    string
		set     Set
		add     int
		wantSet Set
	}{
		{name: "add to empty", set: 0, add: 34, wantSet: 1 << 34},
		{name: "add existing", set: 1 << 34, add: 34, wantSet: 1 << 34},
		{name: "add zero", set: 1 << 5, add: 0, wantSet: 1<<5 | 1},
		{name: "add highest bit", set: 0, add: 63, wantSet: 1 << 63},
		{name: "too large is ignored", set: 1, add: 64, wantSet: 1},
		{name: "negative is ignored", set: 1, add: -1, wantSet: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.set.With(tt.add)
			if got != tt.wantSet {
				t.Fatalf("Set(%#x).With(%d) = %#x, want %#x", uint64(tt.set), tt.add, uint64(got), uint64(tt.wantSet))
			}
			inRange := tt.add >= 0 && tt.add <= maxID
			if got.Has(tt.add) != inRange {
				t.Errorf("Set(%#x).Has(%d) = %v, want %v", uint64(got), tt.add, got.Has(tt.add), inRange)
			}
		})
	}
}

func TestSetNames(t *testing.T) {
	tests := []struct {
		name      string
		set       Set
		wantIDs   []int
		wantNames []string
		wantStr   string
	}{
		{name: "empty", set: 0, wantStr: ""},
		{name: "single", set: 1 << 34, wantIDs: []int{34}, wantNames: []string{"CAP_SYSLOG"}, wantStr: "CAP_SYSLOG"},
		{
			name:      "ascending regardless of insertion order",
			set:       Set(0).With(34).With(0).With(21),
			wantIDs:   []int{0, 21, 34},
			wantNames: []string{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_SYSLOG"},
			wantStr:   "CAP_CHOWN,CAP_SYS_ADMIN,CAP_SYSLOG",
		},
		{
			name:      "unknown numbers",
			set:       Set(0).With(Last).With(41).With(63),
			wantIDs:   []int{Last, 41, 63},
			wantNames: []string{"CAP_CHECKPOINT_RESTORE", "CAP_41", "CAP_63"},
			wantStr:   "CAP_CHECKPOINT_RESTORE,CAP_41,CAP_63",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.set.IDs(); !slices.Equal(got, tt.wantIDs) {
				t.Errorf("IDs() = %v, want %v", got, tt.wantIDs)
			}
			if got := tt.set.Names(); !slices.Equal(got, tt.wantNames) {
				t.Errorf("Names() = %q, want %q", got, tt.wantNames)
			}
			if got := tt.set.String(); got != tt.wantStr {
				t.Errorf("String() = %q, want %q", got, tt.wantStr)
			}
		})
	}
}

func TestParseSet(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Set
		wantErr string // substring of the error; "" means success
	}{
		{name: "example", in: "CAP_SYSLOG,sys_admin,21", want: 1<<34 | 1<<21},
		{name: "empty string", in: "", want: 0},
		{name: "only separators", in: " , ,, ", want: 0},
		{name: "empty items allowed", in: "syslog,,chown,", want: 1<<34 | 1},
		{name: "spaces around items", in: " CAP_SYSLOG , 0 ", want: 1<<34 | 1},
		{name: "all", in: "all", want: allKnown},
		{name: "all upper case", in: "ALL", want: allKnown},
		{name: "all plus unknown number", in: "all,63", want: allKnown | 1<<63},
		{name: "unknown number name", in: "CAP_41", want: 1 << 41},
		{name: "bogus name", in: "syslog,CAP_BOGUS", wantErr: `parse capability set: parse capability "CAP_BOGUS": unknown name`},
		{name: "too large", in: "64", wantErr: `"64": number out of range`},
		{name: "negative", in: "1,-3", wantErr: `"-3": negative number`},
		{name: "inner space", in: "sys admin", wantErr: "unknown name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSet(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseSet(%q) = %v, want error containing %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSet(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSet(%q) unexpected error: %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseSet(%q) = %#x, want %#x", tt.in, uint64(got), uint64(tt.want))
			}
		})
	}
}

func TestAllKnown(t *testing.T) {
	ids := allKnown.IDs()
	if len(ids) != Last+1 || ids[0] != 0 || ids[len(ids)-1] != Last {
		t.Errorf("allKnown.IDs() = %v, want 0..%d", ids, Last)
	}
}

func FuzzParseSet(f *testing.F) {
	for _, seed := range []string{
		"",
		"all",
		"CAP_SYSLOG,sys_admin,21",
		" , ,,",
		"CAP_63,41",
		"all,cap_63",
		"64",
		"-1",
		"CAP_BOGUS",
		"ſyslog",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		set, err := ParseSet(s)
		if err != nil {
			return
		}
		str := set.String()
		again, err := ParseSet(str)
		if err != nil {
			t.Fatalf("ParseSet(%q) = %q, but parsing that fails: %v", s, str, err)
		}
		if again != set {
			t.Fatalf("ParseSet(%q) = %#x, String() = %q parses to %#x", s, uint64(set), str, uint64(again))
		}
	})
}

func TestSetText(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    string // MarshalText of the decoded set
		wantErr string
	}{
		{name: "names, numbers, spaces", text: " net_raw,CAP_SYS_ADMIN, 34", want: "CAP_NET_RAW,CAP_SYS_ADMIN,CAP_SYSLOG"},
		{name: "empty items", text: "sys_admin,,", want: "CAP_SYS_ADMIN"},
		{name: "empty", text: "", wantErr: "the list names no capability"},
		{name: "only separators", text: " , ", wantErr: "the list names no capability"},
		{name: "unknown", text: "CAP_BOGUS", wantErr: "parse capability set:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Set(1) // UnmarshalText leaves it on error
			err := s.UnmarshalText([]byte(tt.text))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || s != 1 {
					t.Fatalf("UnmarshalText(%q) = %v, %v; want an error starting %q", tt.text, s, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("UnmarshalText(%q) = %v", tt.text, err)
			}
			if got, err := s.MarshalText(); err != nil || string(got) != tt.want {
				t.Errorf("MarshalText() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
