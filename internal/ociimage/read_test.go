package ociimage

import (
	"archive/tar"
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestReadReturnsWhatBuildWrote(t *testing.T) {
	img := Image{
		Name:         "docker.io/capprof/otelcol-capprof:v1",
		Architecture: "arm64",
		Entries: []Entry{
			Dir("etc"),
			File("etc/passwd", []byte("root:x:0:0::/:/sbin/nologin\n"), 0o644),
			File("agent", []byte("\x7fELF"), 0o755),
			Symlink("bin/agent", "../agent"),
			Dir("bin"),
		},
		Entrypoint: []string{"/agent"},
		Cmd:        []string{"--config=/etc/agent.yaml"},
		Env:        []string{"PATH=/"},
		User:       "0:0",
		Labels:     map[string]string{"org.opencontainers.image.version": "v1"},
	}
	b, err := Build(img)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Read(b)
	if err != nil {
		t.Fatal(err)
	}
	want := img
	want.Entries = slices.Clone(img.Entries)
	slices.SortFunc(want.Entries, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Read(Build(img)) =\n%+v\nwant\n%+v", got, want)
	}
}

func TestApplyLayerWhiteouts(t *testing.T) {
	layer := func(hs ...tar.Header) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range hs {
			if h.Typeflag == tar.TypeReg {
				h.Size = int64(len(h.Name))
			}
			if err := tw.WriteHeader(&h); err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				_, _ = tw.Write([]byte(h.Name))
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	tree := map[string]Entry{}
	for _, l := range [][]byte{
		layer(
			tar.Header{Name: "a/", Typeflag: tar.TypeDir, Mode: 0o755},
			tar.Header{Name: "a/x", Typeflag: tar.TypeReg, Mode: 0o644},
			tar.Header{Name: "b/", Typeflag: tar.TypeDir, Mode: 0o755},
			tar.Header{Name: "b/y", Typeflag: tar.TypeReg, Mode: 0o644},
			tar.Header{Name: "c", Typeflag: tar.TypeReg, Mode: 0o600},
		),
		layer(
			tar.Header{Name: "a/.wh..wh..opq", Typeflag: tar.TypeReg},
			tar.Header{Name: "a/z", Typeflag: tar.TypeReg, Mode: 0o644},
			tar.Header{Name: ".wh.b", Typeflag: tar.TypeReg},
			tar.Header{Name: "d", Typeflag: tar.TypeLink, Linkname: "c"},
		),
	} {
		if err := applyLayer(tree, l); err != nil {
			t.Fatal(err)
		}
	}
	var paths []string
	for p := range tree {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	if want := []string{"a", "a/z", "c", "d"}; !slices.Equal(paths, want) {
		t.Errorf("paths %v, want %v", paths, want)
	}
	if string(tree["d"].Data) != "c" {
		t.Errorf("hard link d has %q, want c's content", tree["d"].Data)
	}
}
