package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileEntry(t *testing.T) {
	src := filepath.Join(t.TempDir(), "agent")
	if err := os.WriteFile(src, []byte("bin"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, spec, wantErr string
		wantPath            string
		wantMode            int64
	}{
		{name: "default mode", spec: src + ":agent", wantPath: "agent", wantMode: 0o644},
		{name: "octal mode", spec: src + ":usr/bin/agent:0755", wantPath: "usr/bin/agent", wantMode: 0o755},
		{name: "no destination", spec: src, wantErr: "want SRC:DST[:MODE]"},
		{name: "empty source", spec: ":agent", wantErr: "want SRC:DST[:MODE]"},
		{name: "bad mode", spec: src + ":agent:rwx", wantErr: "mode"},
		{name: "missing source", spec: src + ".missing:agent", wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := fileEntry(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || e.Path != tt.wantPath || e.Mode != tt.wantMode || string(e.Data) != "bin" {
				t.Fatalf("entry %+v, err %v", e, err)
			}
		})
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "agent")
	if err := os.WriteFile(src, []byte("bin"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "image.tar")
	err := run([]string{"-name", "example.com/agent:v1", "-o", out, "-dir", "etc", "-file", src + ":agent:0755",
		"-entrypoint", "/agent", "-label", "a=b", "-user", "0:0"})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
		t.Fatalf("no image written: %v", err)
	}
	for _, args := range [][]string{
		{"-o", out},                          // no name
		{"-name", "x:1"},                     // no output
		{"-name", "x:1", "-o", out, "extra"}, // operands
		{"-name", "x:1", "-o", out, "-label", "novalue"},
	} {
		if err := run(args); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
