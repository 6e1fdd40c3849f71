package profile

import (
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

func TestObservationOf(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	record := map[string]any{
		check.AttrCapName:       "CAP_CHOWN",
		check.AttrCapID:         int64(capChown),
		check.AttrVerdict:       "granted",
		check.AttrAudit:         true,
		check.AttrExePath:       "/bin/chown",
		check.AttrEffective:     []any{"CAP_CHOWN", "CAP_KILL"},
		AttrRuntimeSetup:        true,
		AttrDeclaredPrivileged:  "false",
		check.AttrCount:         int64(3),
		"linux.capability.odd":  1.5, // not a string, int or bool: left out
		check.AttrNSIsHost:      true,
		check.AttrSyscallName:   "fchownat",
		check.AttrSyscallID:     int64(260),
		check.AttrCommandArgs:   []any{"chown", "0:0", "f"},
		check.AttrRealUserID:    int64(0),
		check.AttrUserID:        int64(0),
		check.AttrForeignCred:   false,
		check.AttrNSLevel:       int64(0),
		check.AttrWorkingDir:    "/",
		check.AttrParentExePath: "/bin/sh",
	}
	resource := map[string]any{AttrNamespace: "shop", AttrDeploymentName: "web", AttrContainerName: "app", check.AttrHostName: "node-1"}
	o := ObservationOf(record, resource, at)
	if !o.RuntimeSetup {
		t.Error("RuntimeSetup not copied")
	}
	if o.Check.Cap != capChown || o.Check.Count != 3 || o.Check.Audit != check.Audited || !o.Check.Time.Equal(at) {
		t.Errorf("check = %+v", o.Check)
	}
	if o.Attributes[AttrDeclaredPrivileged] != "false" || o.Attributes[check.AttrCount] != "3" || o.Attributes[check.AttrAudit] != "true" {
		t.Errorf("attributes = %v", o.Attributes)
	}
	if _, ok := o.Attributes["linux.capability.odd"]; ok {
		t.Error("a double was kept as a string")
	}
	if _, ok := o.Attributes[check.AttrEffective]; ok {
		t.Error("a list was kept as a string")
	}
	if k := keyOf(&o, ""); k.String() != "k8s shop/Deployment/web/app" {
		t.Errorf("key = %s", k)
	}
}

func TestMarkChanged(t *testing.T) {
	b := NewBuilder(WithMaxProfiles(2))
	b.Add(hostObs("/a", capChown))
	b.Add(hostObs("/b", capChown))
	failed := b.Changed()
	b.Add(hostObs("/c", capChown)) // evicts /a
	b.MarkChanged(failed[0].Key, failed[1].Key)
	if got, want := ids(b.Changed()), []string{"host node-1 /b", "host node-1 /c"}; !slices.Equal(got, want) {
		t.Errorf("Changed() = %v, want %v", got, want)
	}
}
