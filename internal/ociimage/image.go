package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"
)

// Entry is one file system entry of the layer: a directory, a regular file
// or a symbolic link.
type Entry struct {
	Path     string // relative to the image root, without a leading slash
	Data     []byte // a regular file's content
	Mode     int64  // permission bits
	Linkname string // a symbolic link's target
	Dir      bool
}

// Dir is a directory entry with mode 0755.
func Dir(p string) Entry { return Entry{Path: p, Mode: 0o755, Dir: true} }

// File is a regular file entry.
func File(p string, data []byte, mode int64) Entry { return Entry{Path: p, Data: data, Mode: mode} }

// Symlink is a symbolic link entry.
func Symlink(p, target string) Entry { return Entry{Path: p, Linkname: target, Mode: 0o777} }

// Image is what goes into the tarball.
type Image struct {
	// Name is the reference `ctr image import` registers the image under
	// (the io.containerd.image.name annotation), e.g.
	// "docker.io/capprof/otelcol-capprof:v0.1.0". Its tag also becomes the
	// org.opencontainers.image.ref.name annotation.
	Name         string
	Architecture string // GOARCH spelling: amd64, arm64
	Entries      []Entry
	Entrypoint   []string
	Cmd          []string
	Env          []string
	User         string            // "0:0", "65532"; empty means root
	Labels       map[string]string // image config labels
}

// Write writes img as an OCI image layout tarball to out.
func Write(img Image, out string) error {
	b, err := Build(img)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return fmt.Errorf("write image %s: %w", out, err)
	}
	return nil
}

// Build returns img as an OCI image layout tarball.
func Build(img Image) ([]byte, error) {
	if img.Name == "" || img.Architecture == "" {
		return nil, errors.New("image needs a name and an architecture")
	}
	layer, diffID, err := buildLayer(img.Entries)
	if err != nil {
		return nil, err
	}
	runConfig := map[string]any{}
	for k, v := range map[string]any{"Entrypoint": img.Entrypoint, "Cmd": img.Cmd, "Env": img.Env} {
		if v.([]string) != nil {
			runConfig[k] = v
		}
	}
	if img.User != "" {
		runConfig["User"] = img.User
	}
	if img.Labels != nil {
		runConfig["Labels"] = img.Labels
	}
	config, err := json.Marshal(map[string]any{
		"architecture": img.Architecture,
		"os":           "linux",
		"created":      time.Unix(0, 0).UTC().Format(time.RFC3339),
		"config":       runConfig,
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	})
	if err != nil {
		return nil, fmt.Errorf("encode image config: %w", err)
	}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        descriptor("application/vnd.oci.image.config.v1+json", config, nil),
		"layers":        []any{descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer, nil)},
	})
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []any{descriptor("application/vnd.oci.image.manifest.v1+json", manifest, map[string]string{
			"io.containerd.image.name":          img.Name,
			"org.opencontainers.image.ref.name": tag(img.Name),
		})},
	})
	if err != nil {
		return nil, fmt.Errorf("encode index: %w", err)
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []Entry{
		File("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644),
		File("index.json", index, 0o644),
		File(blobPath(config), config, 0o644),
		File(blobPath(manifest), manifest, 0o644),
		File(blobPath(layer), layer, 0o644),
	} {
		if err := writeEntry(tw, f); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close image tar: %w", err)
	}
	return buf.Bytes(), nil
}

// buildLayer returns the gzipped layer and the digest of its uncompressed
// tar, the image config's diff id.
func buildLayer(entries []Entry) (layer []byte, diffID string, err error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, e := range entries {
		if err := writeEntry(tw, e); err != nil {
			return nil, "", err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", fmt.Errorf("close layer: %w", err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, "", fmt.Errorf("compress layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, "", fmt.Errorf("compress layer: %w", err)
	}
	return gz.Bytes(), digest(raw.Bytes()), nil
}

func writeEntry(tw *tar.Writer, e Entry) error {
	name := strings.TrimPrefix(path.Clean(e.Path), "/")
	h := &tar.Header{Name: name, Mode: e.Mode, ModTime: time.Unix(0, 0)}
	switch {
	case e.Dir:
		h.Typeflag, h.Name = tar.TypeDir, name+"/"
	case e.Linkname != "":
		h.Typeflag, h.Linkname = tar.TypeSymlink, e.Linkname
	default:
		h.Typeflag, h.Size = tar.TypeReg, int64(len(e.Data))
	}
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if h.Typeflag == tar.TypeReg {
		if _, err := tw.Write(e.Data); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// tag is the part of a reference after the last colon that follows the
// last slash ("v1" of "host:5000/a/b:v1"), or "latest".
func tag(ref string) string {
	last := ref[strings.LastIndex(ref, "/")+1:]
	if i := strings.LastIndex(last, ":"); i >= 0 {
		return last[i+1:]
	}
	return "latest"
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func blobPath(b []byte) string {
	return "blobs/sha256/" + strings.TrimPrefix(digest(b), "sha256:")
}

func descriptor(mediaType string, b []byte, annotations map[string]string) map[string]any {
	d := map[string]any{"mediaType": mediaType, "digest": digest(b), "size": len(b)}
	if annotations != nil {
		d["annotations"] = annotations
	}
	return d
}
