package cgroup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestPathOfPID(t *testing.T) {
	const (
		hybrid = `12:memory:/kubepods/besteffort/pod` + uid1 + `/` + cid1 + `
11:cpu,cpuacct:/kubepods/besteffort/pod` + uid1 + `/` + cid1 + `
1:name=systemd:/kubepods/besteffort/pod` + uid1 + `/` + cid1 + `
0::/kubepods/besteffort/pod` + uid1 + `/` + cid1 + `
`
		hybridDiffer = `4:memory:/process_api/bf91d8a1
1:name=systemd:/system.slice/ssh.service
0::/
`
	)
	tests := []struct {
		name     string
		pid      int
		content  *string // nil: no file
		want     string
		wantErr  bool
		notExist bool // error wraps fs.ErrNotExist
	}{
		{name: "pure v2", pid: 100, content: ptr("0::/system.slice/docker-" + cid1 + ".scope\n"), want: "/system.slice/docker-" + cid1 + ".scope"},
		{name: "hybrid", pid: 101, content: ptr(hybrid), want: "/kubepods/besteffort/pod" + uid1 + "/" + cid1},
		{name: "hybrid prefers v2 line", pid: 102, content: ptr(hybridDiffer), want: "/"},
		{name: "v1 falls back to systemd", pid: 103, content: ptr("4:memory:/docker/" + cid2 + "\n1:name=systemd:/docker/" + cid1 + "\n"), want: "/docker/" + cid1},
		{name: "systemd among named hierarchies", pid: 104, content: ptr("2:name=foo,name=systemd:/user.slice\n"), want: "/user.slice"},
		{name: "no trailing newline", pid: 105, content: ptr("0::/init.scope"), want: "/init.scope"},
		{name: "colon in path", pid: 106, content: ptr("0::/weird:name\n"), want: "/weird:name"},
		{name: "deleted cgroup", pid: 107, content: ptr("0::/kubepods/pod" + uid2 + "/" + cid2 + " (deleted)\n"), want: "/kubepods/pod" + uid2 + "/" + cid2},
		{name: "v1 without systemd", pid: 108, content: ptr("4:memory:/docker/" + cid1 + "\n"), wantErr: true},
		{name: "empty file", pid: 109, content: ptr(""), wantErr: true},
		{name: "no such process", pid: 110, wantErr: true, notExist: true},
		{name: "zero pid", pid: 0, wantErr: true},
		{name: "negative pid", pid: -1, wantErr: true},
	}
	procRoot := t.TempDir()
	for _, tc := range tests {
		if tc.content == nil {
			continue
		}
		dir := filepath.Join(procRoot, strconv.Itoa(tc.pid))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup"), []byte(*tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PathOfPID(procRoot, tc.pid)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("PathOfPID(%d) = %q, want an error", tc.pid, got)
				}
				if tc.notExist && !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("error = %v, want one wrapping fs.ErrNotExist", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("PathOfPID(%d) = %q, %v; want %q, nil", tc.pid, got, err, tc.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }
