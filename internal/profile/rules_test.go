package profile

import (
	"testing"

	"github.com/capprof/capprof/internal/check"
)

// own is a granted, audited check by uid 1000 against the initial user
// namespace: the baseline each rule's cases change one thing of.
func own() check.Check {
	return check.Check{Cap: capNetBindService, Audit: check.Audited, Count: 1, UserNS: hostNS, UID: 1000, EUID: 1000, Syscall: -1}
}

func TestIsRuntimeSetup(t *testing.T) {
	tests := []struct {
		name string
		obs  Observation
		want bool
	}{
		{name: "marked", obs: Observation{Check: check.Check{RuntimeSetup: true}}, want: true},
		{name: "not marked", obs: Observation{Check: own()}, want: false},
		{name: "the attribute alone does not mark it: FromAttributes decodes it", obs: Observation{
			Attributes: map[string]string{AttrRuntimeSetup: "true"}, Check: own()}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isRuntimeSetup(&tt.obs); got != tt.want {
				t.Errorf("isRuntimeSetup = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIsForeignCred(t *testing.T) {
	tests := []struct {
		name    string
		foreign bool
		want    bool
	}{
		{name: "own credentials", foreign: false, want: false},
		{name: "foreign credentials", foreign: true, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := own()
			c.ForeignCred = tt.foreign
			if got := isForeignCred(&c); got != tt.want {
				t.Errorf("isForeignCred = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIsNotAudited(t *testing.T) {
	tests := []struct {
		name  string
		audit check.Audit
		want  bool
	}{
		{name: "audited", audit: check.Audited, want: false},
		{name: "NOAUDIT probe", audit: check.NotAudited, want: true},
		{name: "unknown counts as audited", audit: check.AuditUnknown, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := own()
			c.Audit = tt.audit
			if got := isNotAudited(&c); got != tt.want {
				t.Errorf("isNotAudited = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIsNamespaced(t *testing.T) {
	tests := []struct {
		name      string
		ns        check.UserNamespace
		uid, euid uint32
		want      bool
	}{
		{name: "initial namespace", ns: hostNS, uid: 0, euid: 0, want: false},
		{name: "level 1 owned by the effective uid", ns: check.UserNamespace{Level: 1, OwnerUID: 1000}, uid: 1000, euid: 1000, want: true},
		{name: "level 1 owned by root, root caller", ns: check.UserNamespace{Level: 1, OwnerUID: 0}, uid: 0, euid: 0, want: true},
		{name: "owned by the real uid only (setuid program)", ns: check.UserNamespace{Level: 1, OwnerUID: 1000}, uid: 1000, euid: 0, want: true},
		{name: "nested level 2 owned by the caller", ns: check.UserNamespace{Level: 2, OwnerUID: 100000}, uid: 100000, euid: 100000, want: true},
		{
			name: "container's own namespace made by the runtime (hostUsers: false)",
			ns:   check.UserNamespace{Level: 1, OwnerUID: 0}, uid: 100000, euid: 100000, want: false,
		},
		{name: "unknown namespace (zero values)", ns: check.UserNamespace{}, uid: 0, euid: 0, want: false},
		{name: "host flag wins over a level", ns: check.UserNamespace{Level: 1, IsHost: true}, uid: 0, euid: 0, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := own()
			c.UserNS, c.UID, c.EUID = tt.ns, tt.uid, tt.euid
			if got := isNamespaced(&c); got != tt.want {
				t.Errorf("isNamespaced = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestClassify checks the order of the rules: the first that matches wins.
func TestClassify(t *testing.T) {
	ownedNS := check.UserNamespace{Level: 1, OwnerUID: 1000}
	tests := []struct {
		name  string
		setup bool
		edit  func(*check.Check)
		want  Class
	}{
		{name: "granted own check", edit: func(*check.Check) {}, want: ClassOwn},
		{name: "denied own check", edit: func(c *check.Check) { c.Denied = true }, want: ClassOwn},
		{name: "audit unknown is own", edit: func(c *check.Check) { c.Audit = check.AuditUnknown }, want: ClassOwn},
		{name: "runtime setup", setup: true, edit: func(*check.Check) {}, want: ClassRuntimeSetup},
		{name: "runtime setup wins over foreign credentials and NOAUDIT", setup: true,
			edit: func(c *check.Check) { c.ForeignCred, c.Audit = true, check.NotAudited }, want: ClassRuntimeSetup},
		{name: "foreign credentials", edit: func(c *check.Check) { c.ForeignCred = true }, want: ClassForeignCred},
		{name: "foreign credentials win over NOAUDIT and namespaces",
			edit: func(c *check.Check) { c.ForeignCred, c.Audit, c.UserNS = true, check.NotAudited, ownedNS }, want: ClassForeignCred},
		{name: "NOAUDIT", edit: func(c *check.Check) { c.Audit = check.NotAudited }, want: ClassNotAudited},
		{name: "NOAUDIT wins over namespaces",
			edit: func(c *check.Check) { c.Audit, c.UserNS = check.NotAudited, ownedNS }, want: ClassNotAudited},
		{name: "namespaced", edit: func(c *check.Check) { c.UserNS = ownedNS }, want: ClassNamespaced},
		{name: "namespaced denied", edit: func(c *check.Check) { c.UserNS, c.Denied = ownedNS, true }, want: ClassNamespaced},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Observation{Check: own()}
			o.Check.RuntimeSetup = tt.setup
			tt.edit(&o.Check)
			if got := classify(&o); got != tt.want {
				t.Errorf("classify = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestClassReasons(t *testing.T) {
	for c := range numClasses {
		reason := c.Reason()
		if c.ignored() != (reason != "") {
			t.Errorf("class %d: ignored = %v but reason %q", c, c.ignored(), reason)
		}
		back, ok := classOfEvidence(evidenceClass(c))
		if !ok || back != c {
			t.Errorf("class %d: evidence class %q maps back to %d, %v", c, evidenceClass(c), back, ok)
		}
		if reason != "" {
			if back, ok := classOfReason(reason); !ok || back != c {
				t.Errorf("reason %q maps back to %d, %v", reason, back, ok)
			}
			if reasonText(reason) == reason {
				t.Errorf("reason %q has no human text", reason)
			}
		}
	}
	if _, ok := classOfEvidence("bogus"); ok {
		t.Error("classOfEvidence accepted an unknown class")
	}
}

// TestVerdict checks how a capability's evidence decides its verdict.
func TestVerdict(t *testing.T) {
	ownedNS := check.UserNamespace{Level: 1, OwnerUID: 1000}
	granted := func(c *check.Check) {}
	denied := func(c *check.Check) { c.Denied = true }
	noaudit := func(c *check.Check) { c.Audit = check.NotAudited }
	foreign := func(c *check.Check) { c.ForeignCred = true }
	namespaced := func(c *check.Check) { c.UserNS = ownedNS }
	nsDenied := func(c *check.Check) { c.UserNS, c.Denied = ownedNS, true }
	tests := []struct {
		name   string
		checks []func(*check.Check)
		setup  bool
		want   string
	}{
		{name: "granted once", checks: []func(*check.Check){granted}, want: VerdictNeeded},
		{name: "granted and denied", checks: []func(*check.Check){denied, granted}, want: VerdictNeeded},
		{name: "denied only", checks: []func(*check.Check){denied, denied}, want: VerdictDeniedOnly},
		{name: "NOAUDIT granted is not a need", checks: []func(*check.Check){noaudit}, want: VerdictIgnored},
		{name: "foreign granted is not a need", checks: []func(*check.Check){foreign}, want: VerdictIgnored},
		{name: "runtime setup granted is not a need", setup: true, checks: []func(*check.Check){granted}, want: VerdictIgnored},
		{name: "namespaced only", checks: []func(*check.Check){namespaced}, want: VerdictNamespaced},
		{name: "namespaced denied only", checks: []func(*check.Check){nsDenied}, want: VerdictNamespaced},
		{name: "namespaced and granted own", checks: []func(*check.Check){namespaced, granted}, want: VerdictNeeded},
		{name: "namespaced and denied own", checks: []func(*check.Check){namespaced, denied}, want: VerdictDeniedOnly},
		{name: "denied plus ignored granted", checks: []func(*check.Check){denied, noaudit, foreign}, want: VerdictDeniedOnly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder(WithCommand("x"))
			for _, edit := range tt.checks {
				c := own()
				edit(&c)
				c.RuntimeSetup = tt.setup
				b.Add(Observation{Check: c})
			}
			ps := b.Profiles()
			if len(ps) != 1 || len(ps[0].Capabilities) != 1 {
				t.Fatalf("profiles = %+v, want one with one capability", ps)
			}
			if got := ps[0].Capabilities[0].Verdict; got != tt.want {
				t.Errorf("verdict = %q, want %q", got, tt.want)
			}
		})
	}
}
