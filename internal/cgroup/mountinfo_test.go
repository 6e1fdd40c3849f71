package cgroup

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	hybridMountInfo = `22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 22 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
32 31 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
33 31 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
36 31 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,cpu,cpuacct
37 31 0:34 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,memory
`
	pureV2MountInfo = `24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`
	v1OnlyMountInfo = `31 22 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
33 31 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
`
)

func TestParseCgroup2Mount(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr error
	}{
		{name: "hybrid", in: hybridMountInfo, want: "/sys/fs/cgroup/unified"},
		{name: "pure v2", in: pureV2MountInfo, want: "/sys/fs/cgroup"},
		{name: "v1 only", in: v1OnlyMountInfo, wantErr: ErrNoCgroup2Mount},
		{name: "empty", in: "", wantErr: ErrNoCgroup2Mount},
		{
			name: "no optional fields",
			in:   "35 24 0:30 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n",
			want: "/sys/fs/cgroup",
		},
		{
			name: "several optional fields",
			in:   "35 24 0:30 / /sys/fs/cgroup rw,relatime shared:9 master:3 propagate_from:2 - cgroup2 cgroup2 rw\n",
			want: "/sys/fs/cgroup",
		},
		{
			name: "escaped mount point",
			in:   `35 24 0:30 / /mnt/cgroup\0402\134x rw,relatime - cgroup2 none rw` + "\n",
			want: `/mnt/cgroup 2\x`,
		},
		{
			name: "whole hierarchy preferred over a subtree",
			in: "40 30 0:30 /docker/" + cid1 + " /host/cgroup rw,relatime - cgroup2 cgroup2 rw\n" +
				"41 30 0:30 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n",
			want: "/sys/fs/cgroup",
		},
		{
			name: "subtree when nothing better",
			in:   "40 30 0:30 /docker/" + cid1 + " /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n",
			want: "/sys/fs/cgroup",
		},
		{
			name:    "cgroup2 as a source name only",
			in:      "40 30 0:50 / /mnt rw,relatime - tmpfs cgroup2 rw\n",
			wantErr: ErrNoCgroup2Mount,
		},
		{
			name:    "malformed lines are skipped",
			in:      "garbage\n35 24 0:30 / /sys/fs/cgroup rw cgroup2 cgroup2 rw x y z\n",
			wantErr: ErrNoCgroup2Mount,
		},
		{
			name: "very long line",
			in: "50 30 0:60 / /var/lib/docker/overlay2/x/merged rw - overlay overlay rw,lowerdir=" +
				strings.Repeat("/var/lib/docker/overlay2/l/ABCDEFGHIJKLMNOPQRSTUVWXYZ:", 2000) + "\n" + pureV2MountInfo,
			want: "/sys/fs/cgroup",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCgroup2Mount(strings.NewReader(tc.in))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("= %q, %v; want %q, nil", got, err, tc.want)
			}
		})
	}
}

func TestFindCgroup2Mount(t *testing.T) {
	dir := t.TempDir()
	hybrid := filepath.Join(dir, "mountinfo")
	if err := os.WriteFile(hybrid, []byte(hybridMountInfo), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		file    string
		want    string
		wantErr bool
	}{
		{name: "hybrid file", file: hybrid, want: "/sys/fs/cgroup/unified"},
		{name: "missing file", file: filepath.Join(dir, "missing"), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := findCgroup2Mount(tc.file)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("findCgroup2Mount(%q) = %q, %v; want %q, error %v", tc.file, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
