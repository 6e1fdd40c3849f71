package proc

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHostNamespaces(t *testing.T) {
	tests := []struct {
		name     string
		dirs     []string // ns directories created under the fake procfs
		kthreadd bool     // pid 2 is the kernel's kthreadd
		want     string   // the directory whose namespaces are the answer
		wantErr  string
	}{
		{name: "pid 1", dirs: []string{"1", "self"}, want: "1"},
		{name: "pid 1 unreadable, kthreadd's", dirs: []string{"2", "self"}, kthreadd: true, want: "2"},
		{name: "pid 2 is not kthreadd (a container's pid namespace)", dirs: []string{"2", "self"}, want: "self"},
		{name: "pid 1 and 2 unreadable, ours stands in", dirs: []string{"self"}, want: "self"},
		{name: "neither", wantErr: "read host mount namespace:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			want := map[string]Namespaces{}
			for _, d := range tt.dirs {
				want[d] = writeFakeNamespaces(t, filepath.Join(root, d, "ns"), "")
			}
			if tt.kthreadd {
				writeFile(t, filepath.Join(root, "2", "comm"), "kthreadd\n")
			}
			got, err := HostNamespaces(root, slog.New(slog.DiscardHandler))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("HostNamespaces = %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != want[tt.want] {
				t.Errorf("HostNamespaces = %v, want %s's %v", got, tt.want, want[tt.want])
			}
		})
	}
}

func TestNamespaceKindNames(t *testing.T) {
	// The names are /proc/PID/ns's, and the attributes' (linux.namespace.<kind>).
	for k := range NumNamespaceKinds {
		_, err := os.Stat("/proc/self/ns/" + k.String())
		if err != nil && !(os.IsNotExist(err) && (k == NSTime || k == NSTimeForChildren)) { // Linux 5.6+
			t.Errorf("%s: %v", k, err)
		}
	}
	if got := NSPIDForChildren.String(); got != "pid_for_children" {
		t.Errorf("NSPIDForChildren = %q", got)
	}
}
