package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"testing"
)

// readTar returns a tarball's regular files and every header by name.
func readTar(t *testing.T, b []byte) (map[string][]byte, map[string]*tar.Header) {
	t.Helper()
	files, headers := map[string][]byte{}, map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, headers
		}
		if err != nil {
			t.Fatal(err)
		}
		headers[h.Name] = h
		if h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = data
		}
	}
}

type descriptorJSON struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int               `json:"size"`
	Annotations map[string]string `json:"annotations"`
}

// blob returns the blob d names, checking its size and digest.
func blob(t *testing.T, files map[string][]byte, d descriptorJSON) []byte {
	t.Helper()
	b, ok := files["blobs/sha256/"+d.Digest[len("sha256:"):]]
	if !ok {
		t.Fatalf("no blob for %s", d.Digest)
	}
	sum := sha256.Sum256(b)
	if "sha256:"+hex.EncodeToString(sum[:]) != d.Digest || len(b) != d.Size {
		t.Fatalf("blob %s: digest or size %d differs", d.Digest, len(b))
	}
	return b
}

func TestBuildLayout(t *testing.T) {
	img := Image{
		Name:         "docker.io/capprof/otelcol-capprof:v1",
		Architecture: "amd64",
		Entries: []Entry{
			Dir("etc"),
			File("/etc/passwd", []byte("root:x:0:0::/:/sbin/nologin\n"), 0o644),
			File("agent", []byte("\x7fELF"), 0o755),
			Symlink("bin/agent", "../agent"),
		},
		Entrypoint: []string{"/agent"},
		Cmd:        []string{"--config=/etc/agent.yaml"},
		User:       "0:0",
		Labels:     map[string]string{"org.opencontainers.image.version": "v1"},
	}
	out, err := Build(img)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Build(img)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, again) {
		t.Error("two builds of the same image differ")
	}

	files, _ := readTar(t, out)
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q", files["oci-layout"])
	}
	var index struct{ Manifests []descriptorJSON }
	if err := json.Unmarshal(files["index.json"], &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json: %v %s", err, files["index.json"])
	}
	if got := index.Manifests[0].Annotations; got["io.containerd.image.name"] != img.Name || got["org.opencontainers.image.ref.name"] != "v1" {
		t.Errorf("index annotations = %v", got)
	}
	var manifest struct {
		Config descriptorJSON
		Layers []descriptorJSON
	}
	if err := json.Unmarshal(blob(t, files, index.Manifests[0]), &manifest); err != nil || len(manifest.Layers) != 1 {
		t.Fatalf("manifest: %v", err)
	}
	var config struct {
		Architecture, OS string
		Config           struct {
			Entrypoint, Cmd []string
			User            string
			Labels          map[string]string
		}
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		}
	}
	if err := json.Unmarshal(blob(t, files, manifest.Config), &config); err != nil {
		t.Fatal(err)
	}
	if config.Architecture != "amd64" || config.OS != "linux" || config.Config.User != "0:0" ||
		len(config.Config.Entrypoint) != 1 || config.Config.Entrypoint[0] != "/agent" ||
		len(config.Config.Cmd) != 1 || config.Config.Labels["org.opencontainers.image.version"] != "v1" {
		t.Errorf("config = %+v", config)
	}

	zr, err := gzip.NewReader(bytes.NewReader(blob(t, files, manifest.Layers[0])))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if len(config.RootFS.DiffIDs) != 1 || config.RootFS.DiffIDs[0] != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("diff_ids %v do not name the uncompressed layer", config.RootFS.DiffIDs)
	}
	layer, headers := readTar(t, raw)
	tests := []struct {
		name     string
		typeflag byte
		mode     int64
		linkname string
		data     string
	}{
		{"etc/", tar.TypeDir, 0o755, "", ""},
		{"etc/passwd", tar.TypeReg, 0o644, "", "root:x:0:0::/:/sbin/nologin\n"},
		{"agent", tar.TypeReg, 0o755, "", "\x7fELF"},
		{"bin/agent", tar.TypeSymlink, 0o777, "../agent", ""},
	}
	for _, tt := range tests {
		h, ok := headers[tt.name]
		if !ok {
			t.Errorf("layer has no %s", tt.name)
			continue
		}
		if h.Typeflag != tt.typeflag || h.Mode != tt.mode || h.Linkname != tt.linkname || string(layer[tt.name]) != tt.data {
			t.Errorf("%s: type %c mode %o link %q data %q", tt.name, h.Typeflag, h.Mode, h.Linkname, layer[tt.name])
		}
	}
}

func TestBuildNeedsNameAndArchitecture(t *testing.T) {
	for _, img := range []Image{{Architecture: "amd64"}, {Name: "x:1"}} {
		if _, err := Build(img); err == nil {
			t.Errorf("Build(%+v) succeeded", img)
		}
	}
}

func TestTag(t *testing.T) {
	for _, tt := range []struct{ ref, want string }{
		{"docker.io/a/b:v1", "v1"},
		{"localhost:5000/a/b", "latest"},
		{"localhost:5000/a/b:dev", "dev"},
		{"b", "latest"},
	} {
		if got := tag(tt.ref); got != tt.want {
			t.Errorf("tag(%q) = %q, want %q", tt.ref, got, tt.want)
		}
	}
}
