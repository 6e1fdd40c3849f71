package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// marshal builds a BTF blob holding the given struct names, the way the
// kernel's build lays it out (header, types, strings).
func marshal(t *testing.T, names ...string) []byte {
	t.Helper()
	u32 := &btf.Int{Name: "u32", Size: 4}
	var types []btf.Type
	for _, name := range names {
		types = append(types, &btf.Struct{Name: name, Size: 4, Members: []btf.Member{{Name: "pid", Type: u32}}})
	}
	b, err := btf.NewBuilder(types, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestFindBTF(t *testing.T) {
	kernel := marshal(t, "task_struct", "cred")
	other := marshal(t, "not_the_kernel")
	// The magic followed by a header whose lengths run past the image.
	truncated := append(append([]byte{}, btfMagic...), bytes.Repeat([]byte{0xff}, 20)...)
	code := bytes.Repeat([]byte{0xd5, 0x03, 0x20, 0x1f}, 64) // arm64 nops
	tests := []struct {
		name    string
		image   []byte
		want    []byte
		wantErr bool
	}{
		{name: "blob between code", image: concat(code, kernel, code), want: kernel},
		{name: "stray magic before the blob", image: concat(code, truncated, code, kernel), want: kernel},
		{name: "BTF without task_struct is skipped", image: concat(other, code, kernel, code), want: kernel},
		{name: "blob cut short", image: concat(code, kernel[:len(kernel)-1]), wantErr: true},
		{name: "only other BTF", image: concat(code, other), wantErr: true},
		{name: "no BTF", image: code, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findBTF(tt.image)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %d bytes", len(got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("got %d bytes, want the kernel's %d", len(got), len(tt.want))
			}
		})
	}
}

func TestRunGzippedImage(t *testing.T) {
	kernel := marshal(t, "task_struct")
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write(concat(bytes.Repeat([]byte{0}, 4096), kernel)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "vmlinux.btf")
	if err := os.WriteFile(in, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(in, out); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, kernel) {
		t.Fatalf("wrote %d bytes, want the %d of the BTF", len(got), len(kernel))
	}
}
