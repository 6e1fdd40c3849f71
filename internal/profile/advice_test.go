package profile

import (
	"slices"
	"testing"

	"github.com/capprof/capprof/internal/check"
)

func TestPSSLevel(t *testing.T) {
	tests := []struct {
		name       string
		add, drop  []string
		privileged bool
		want       string
	}{
		{name: "nothing added, ALL dropped", drop: []string{"ALL"}, want: PSSRestricted},
		{name: "NET_BIND_SERVICE is the one restricted allows", add: []string{"NET_BIND_SERVICE"}, drop: []string{"ALL"}, want: PSSRestricted},
		{name: "restricted needs drop ALL", add: []string{"NET_BIND_SERVICE"}, want: PSSBaseline},
		{name: "restricted needs drop ALL, not a list", drop: []string{"NET_RAW"}, want: PSSBaseline},
		{name: "CHOWN is baseline", add: []string{"CHOWN"}, drop: []string{"ALL"}, want: PSSBaseline},
		{name: "the whole baseline list", add: slices.Clone(baselineAdd), drop: []string{"ALL"}, want: PSSBaseline},
		{name: "NET_RAW is not in the baseline list", add: []string{"NET_RAW"}, drop: []string{"ALL"}, want: PSSPrivileged},
		{name: "SYS_ADMIN", add: []string{"SYS_ADMIN", "CHOWN"}, drop: []string{"ALL"}, want: PSSPrivileged},
		{name: "adding ALL", add: []string{"ALL"}, want: PSSPrivileged},
		{name: "unknown capability", add: []string{"41"}, drop: []string{"ALL"}, want: PSSPrivileged},
		{name: "privileged container", drop: []string{"ALL"}, privileged: true, want: PSSPrivileged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PSSLevel(tt.add, tt.drop, tt.privileged); got != tt.want {
				t.Errorf("PSSLevel(%v, %v, %v) = %q, want %q", tt.add, tt.drop, tt.privileged, got, tt.want)
			}
		})
	}
}

// TestBaselineList pins the Baseline list to the Pod Security Standards
// (capabilities_allowed_1_0 of k8s.io/pod-security-admission), sorted.
func TestBaselineList(t *testing.T) {
	want := []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
		"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
	if !slices.Equal(baselineAdd, want) {
		t.Errorf("baselineAdd = %v, want %v", baselineAdd, want)
	}
}

func TestDiff(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name     string
		add      []string
		declared Declared
		want     Diff
	}{
		{
			name:     "matches",
			add:      []string{"NET_BIND_SERVICE"},
			declared: Declared{Add: []string{"NET_BIND_SERVICE"}, Drop: []string{"ALL"}, Privileged: &no},
			want:     Diff{Add: []string{}, Drop: []string{}, DeclaredPSSLevel: PSSRestricted, Matches: true},
		},
		{
			name:     "extra declared capability and no drop ALL",
			add:      []string{"NET_BIND_SERVICE"},
			declared: Declared{Add: []string{"NET_ADMIN", "NET_BIND_SERVICE"}, Drop: []string{}},
			want:     Diff{Add: []string{}, Drop: []string{"NET_ADMIN"}, DropAllMissing: true, DeclaredPSSLevel: PSSPrivileged},
		},
		{
			name:     "missing capability",
			add:      []string{"CHOWN", "NET_BIND_SERVICE"},
			declared: Declared{Add: []string{"NET_BIND_SERVICE"}, Drop: []string{"ALL"}},
			want:     Diff{Add: []string{"CHOWN"}, Drop: []string{}, DeclaredPSSLevel: PSSRestricted},
		},
		{
			name:     "privileged declared",
			add:      []string{},
			declared: Declared{Add: []string{}, Drop: []string{"ALL"}, Privileged: &yes},
			want:     Diff{Add: []string{}, Drop: []string{}, PrivilegedDeclared: true, DeclaredPSSLevel: PSSPrivileged},
		},
		{
			name:     "declared add ALL",
			add:      []string{"CHOWN"},
			declared: Declared{Add: []string{"ALL"}, Drop: []string{}},
			want:     Diff{Add: []string{}, Drop: []string{"ALL"}, DropAllMissing: true, DeclaredPSSLevel: PSSPrivileged},
		},
		{
			name:     "nothing needed, runtime defaults kept",
			add:      []string{},
			declared: Declared{Add: []string{}, Drop: []string{"NET_RAW"}},
			want:     Diff{Add: []string{}, Drop: []string{}, DropAllMissing: true, DeclaredPSSLevel: PSSBaseline},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := diff(tt.add, &tt.declared)
			if !slices.Equal(got.Add, tt.want.Add) || !slices.Equal(got.Drop, tt.want.Drop) ||
				got.DropAllMissing != tt.want.DropAllMissing || got.PrivilegedDeclared != tt.want.PrivilegedDeclared ||
				got.DeclaredPSSLevel != tt.want.DeclaredPSSLevel || got.Matches != tt.want.Matches {
				t.Errorf("diff = %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestParseCapList(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{name: "empty", in: "", want: []string{}},
		{name: "spaces and empty items", in: " , ,", want: []string{}},
		{name: "kubernetes names", in: "NET_BIND_SERVICE,NET_ADMIN", want: []string{"NET_ADMIN", "NET_BIND_SERVICE"}},
		{name: "prefixed and lower case", in: "cap_net_raw, Chown", want: []string{"CHOWN", "NET_RAW"}},
		{name: "ALL in any case", in: "all", want: []string{"ALL"}},
		{name: "duplicates", in: "CHOWN,CAP_CHOWN,chown", want: []string{"CHOWN"}},
		{name: "unknown names are kept", in: "cap_bogus,KILL", want: []string{"BOGUS", "KILL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseCapList(tt.in); !slices.Equal(got, tt.want) || got == nil {
				t.Errorf("parseCapList(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestDeclaredOf(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name      string
		res, attr map[string]string
		want      *Declared
	}{
		{name: "none", res: map[string]string{AttrNamespace: "x"}, want: nil},
		{
			name: "resource",
			res:  map[string]string{AttrDeclaredAdd: "NET_BIND_SERVICE", AttrDeclaredDrop: "ALL", AttrDeclaredPrivileged: "false"},
			want: &Declared{Add: []string{"NET_BIND_SERVICE"}, Drop: []string{"ALL"}, Privileged: &no},
		},
		{
			name: "record attributes win",
			res:  map[string]string{AttrDeclaredAdd: "SYS_ADMIN", AttrDeclaredPrivileged: "false"},
			attr: map[string]string{AttrDeclaredAdd: "CHOWN", AttrDeclaredPrivileged: "TRUE"},
			want: &Declared{Add: []string{"CHOWN"}, Drop: []string{}, Privileged: &yes},
		},
		{
			name: "only privileged",
			attr: map[string]string{AttrDeclaredPrivileged: "true"},
			want: &Declared{Add: []string{}, Drop: []string{}, Privileged: &yes},
		},
		{
			name: "privileged neither true nor false is unknown",
			res:  map[string]string{AttrDeclaredDrop: "all", AttrDeclaredPrivileged: "maybe"},
			want: &Declared{Add: []string{}, Drop: []string{"ALL"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Observation{Resource: tt.res, Attributes: tt.attr}
			got := declaredOf(&o)
			if (got == nil) != (tt.want == nil) {
				t.Fatalf("declaredOf = %+v, want %+v", got, tt.want)
			}
			if got == nil {
				return
			}
			if !slices.Equal(got.Add, tt.want.Add) || !slices.Equal(got.Drop, tt.want.Drop) ||
				(got.Privileged == nil) != (tt.want.Privileged == nil) ||
				(got.Privileged != nil && *got.Privileged != *tt.want.Privileged) {
				t.Errorf("declaredOf = %+v (privileged %v), want %+v (privileged %v)", got, got.Privileged, tt.want, tt.want.Privileged)
			}
		})
	}
}

// TestAdvice checks the advice of small profiles end to end.
func TestAdvice(t *testing.T) {
	grant := func(capID int) Observation {
		return Observation{Check: chk(at(0), capID, "/bin/x", "x", 1, containerdDefault)}
	}
	deny := func(capID int) Observation {
		o := grant(capID)
		o.Check.Denied = true
		return o
	}
	unknown := func(capID int) Observation {
		o := grant(capID)
		o.Check.Audit = check.AuditUnknown
		return o
	}
	namespaced := func(capID int) Observation {
		o := grant(capID)
		o.Check.UserNS = check.UserNamespace{Level: 1, OwnerUID: 0}
		o.Check.Effective = fullSet
		return o
	}
	tests := []struct {
		name string
		obs  []Observation
		want Advice
	}{
		{
			name: "needs nothing",
			obs:  []Observation{},
			want: Advice{Add: []string{}, PSSLevel: PSSRestricted, Unused: []string{}, Denied: []string{}, Namespaced: []string{}, AuditUnknown: []string{}},
		},
		{
			name: "sorted by name, not number",
			obs:  []Observation{grant(capSysChroot), grant(capChown), grant(capSetuid)},
			want: Advice{Add: []string{"CHOWN", "SETUID", "SYS_CHROOT"}, PSSLevel: PSSBaseline,
				Unused: []string{"AUDIT_WRITE", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP"},
				Denied: []string{}, Namespaced: []string{}, AuditUnknown: []string{}},
		},
		{
			name: "denied, namespaced and audit-unknown",
			obs:  []Observation{deny(capSysAdmin), namespaced(capSysAdmin), namespaced(capNetAdmin), unknown(capNetRaw)},
			want: Advice{Add: []string{"NET_RAW"}, PSSLevel: PSSPrivileged,
				Unused: []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"},
				Denied: []string{"SYS_ADMIN"}, Namespaced: []string{"NET_ADMIN", "SYS_ADMIN"}, AuditUnknown: []string{"NET_RAW"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder(WithCommand("x"))
			for _, o := range tt.obs {
				b.Add(o)
			}
			ps := b.Profiles()
			var got Advice
			if len(ps) == 1 {
				got = ps[0].Advice
			} else {
				// No observation, no profile: the advice of an empty one.
				got = advise(&Profile{}, 0)
			}
			if !slices.Equal(got.Drop, []string{"ALL"}) {
				t.Errorf("drop = %v, want [ALL]", got.Drop)
			}
			for _, c := range []struct {
				field     string
				got, want []string
			}{
				{"add", got.Add, tt.want.Add},
				{"unused", got.Unused, tt.want.Unused},
				{"denied", got.Denied, tt.want.Denied},
				{"namespaced", got.Namespaced, tt.want.Namespaced},
				{"audit_unknown", got.AuditUnknown, tt.want.AuditUnknown},
			} {
				if !slices.Equal(c.got, c.want) || c.got == nil {
					t.Errorf("%s = %#v, want %#v", c.field, c.got, c.want)
				}
			}
			if got.PSSLevel != tt.want.PSSLevel {
				t.Errorf("pss level = %q, want %q", got.PSSLevel, tt.want.PSSLevel)
			}
			if got.Diff != nil {
				t.Errorf("diff = %+v without a declared securityContext", got.Diff)
			}
		})
	}
}
