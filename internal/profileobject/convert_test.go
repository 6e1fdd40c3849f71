package profileobject

import (
	"reflect"
	"testing"
	"time"

	"github.com/capprof/capprof/api/v1alpha1"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
	"github.com/capprof/capprof/internal/profile"
)

// TestSourceRoundTrip: a profile written as a Source and read back merges
// into the same evidence and advice (times at the API's second precision).
func TestSourceRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	res := map[string]string{
		profile.AttrNamespace: "shop", profile.AttrDeploymentName: "web", profile.AttrContainerName: "app", "host.name": "node-1",
	}
	b := profile.NewBuilder()
	for i, c := range []struct {
		capID  int
		denied bool
		audit  check.Audit
	}{{0, false, check.Audited}, {21, true, check.Audited}, {21, true, check.NotAudited}} {
		b.Add(profile.Observation{Resource: res, Attributes: map[string]string{profile.AttrDeclaredDrop: "ALL"}, Check: check.Check{
			Time: t0.Add(time.Duration(i) * time.Second), Cap: c.capID, Denied: c.denied, Audit: c.audit, Count: 2,
			UserNS: check.UserNamespace{IsHost: true}, Syscall: -1, Effective: 1,
			Process: proc.Info{ExecutablePath: "/bin/app"},
		}})
	}
	p := b.Profiles()[0]
	src := SourceOf(&p, "gw", t0)
	got := Merged(p.Key, []v1alpha1.Source{src})
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"advice", got.Advice, p.Advice},
		{"checks", got.Checks, p.Checks},
		{"effective", got.Effective, p.Effective},
		{"declared", got.Declared, p.Declared},
		{"capabilities", got.Capabilities, p.Capabilities},
	} {
		if !reflect.DeepEqual(f.got, f.want) {
			t.Errorf("%s: got %+v, want %+v", f.name, f.got, f.want)
		}
	}
}
