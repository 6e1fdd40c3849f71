package profile

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/check"
)

func TestChanged(t *testing.T) {
	b := NewBuilder()
	if got := b.Changed(); len(got) != 0 {
		t.Fatalf("empty builder: Changed() = %v", ids(got))
	}
	b.Add(hostObs("/b", capChown))
	b.Add(hostObs("/a", capChown))
	if got, want := ids(b.Changed()), []string{"host node-1 /a", "host node-1 /b"}; !slices.Equal(got, want) {
		t.Errorf("after two adds: Changed() = %v, want %v", got, want)
	}
	if got := b.Changed(); len(got) != 0 {
		t.Errorf("nothing added since: Changed() = %v", ids(got))
	}
	b.Add(hostObs("/a", capKill))
	got := b.Changed()
	if len(got) != 1 || got[0].ID != "host node-1 /a" || got[0].Observations != 2 {
		t.Errorf("after an update: Changed() = %+v, want /a with 2 observations", got)
	}

	restored := NewBuilder()
	restored.Restore(b.Profiles()...)
	if got := restored.Changed(); len(got) != 0 {
		t.Errorf("restored profiles are not changes: Changed() = %v", ids(got))
	}
	if restored.Len() != 2 {
		t.Errorf("restored Len() = %d, want 2", restored.Len())
	}
}

func TestChangedForgetsEvicted(t *testing.T) {
	b := NewBuilder(WithMaxProfiles(1))
	b.Add(hostObs("/a", capChown))
	b.Add(hostObs("/b", capChown))
	if got, want := ids(b.Changed()), []string{"host node-1 /b"}; !slices.Equal(got, want) {
		t.Errorf("Changed() = %v, want %v", got, want)
	}
}

func TestResourceObservation(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	record := map[string]any{
		check.AttrCapName:      "CAP_CHOWN",
		check.AttrCapID:        int64(capChown),
		check.AttrVerdict:      "granted",
		check.AttrAudit:        true,
		check.AttrExePath:      "/bin/chown",
		check.AttrEffective:    []any{"CAP_CHOWN", "CAP_KILL"},
		check.AttrCount:        int64(3),
		check.AttrNSIsHost:     true,
		check.AttrSyscallName:  "fchownat",
		AttrRuntimeSetup:       true,
		AttrDeclaredAdd:        "CHOWN",
		AttrDeclaredPrivileged: false,
		AttrDeclaredDrop:       1.5, // not a string, int or bool: left out
	}
	res := NewResource(map[string]any{
		AttrNamespace: "shop", AttrDeploymentName: "web", AttrContainerName: "app", check.AttrHostName: "node-1",
		"k8s.pod.start_time": int64(7), "odd.list": []any{"a"},
	})
	o := res.Observation(record, at)
	if !o.Check.RuntimeSetup {
		t.Error("RuntimeSetup not decoded")
	}
	if o.Check.Cap != capChown || o.Check.Count != 3 || o.Check.Audit != check.Audited || !o.Check.Time.Equal(at) {
		t.Errorf("check = %+v", o.Check)
	}
	wantAttrs := map[string]string{AttrDeclaredAdd: "CHOWN", AttrDeclaredPrivileged: "false"}
	if !maps.Equal(o.Attributes, wantAttrs) {
		t.Errorf("attributes = %v, want the declared securityContext %v", o.Attributes, wantAttrs)
	}
	if o.Resource["k8s.pod.start_time"] != "7" || o.Resource[check.AttrHostName] != "node-1" {
		t.Errorf("resource = %v", o.Resource)
	}
	if _, ok := o.Resource["odd.list"]; ok {
		t.Error("a list was kept as a string")
	}
	if k := keyOf(&o, ""); k.String() != "k8s shop/Deployment/web/app" {
		t.Errorf("key = %s", k)
	}
	if d := declaredOf(&o); d == nil || !slices.Equal(d.Add, []string{"CHOWN"}) || d.Privileged == nil || *d.Privileged {
		t.Errorf("declared = %+v", d)
	}
	if o := res.Observation(map[string]any{check.AttrCapID: int64(capKill)}, at); o.Attributes != nil {
		t.Errorf("a record without a declared securityContext: attributes = %v", o.Attributes)
	}
}
