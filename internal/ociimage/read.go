package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// Read parses an OCI image layout tarball, Build's or another builder's
// (`buildah push oci-archive:`), into an Image: the first manifest of its
// index, the run config, and the file system its layers make, whiteouts
// applied, entries sorted by path. Tests compare images made by different
// tools with it.
func Read(tarball []byte) (Image, error) {
	files, err := readFiles(tarball)
	if err != nil {
		return Image{}, err
	}
	var index struct {
		Manifests []readDescriptor `json:"manifests"`
	}
	if err := decodeBlob(files, readDescriptor{Digest: "index.json"}, &index); err != nil {
		return Image{}, err
	}
	if len(index.Manifests) == 0 {
		return Image{}, errors.New("read image: index.json lists no manifest")
	}
	m := index.Manifests[0]
	var manifest struct {
		Config readDescriptor   `json:"config"`
		Layers []readDescriptor `json:"layers"`
	}
	if err := decodeBlob(files, m, &manifest); err != nil {
		return Image{}, err
	}
	var config struct {
		Architecture string `json:"architecture"`
		Config       struct {
			Entrypoint []string          `json:"Entrypoint"`
			Cmd        []string          `json:"Cmd"`
			Env        []string          `json:"Env"`
			User       string            `json:"User"`
			Labels     map[string]string `json:"Labels"`
		} `json:"config"`
	}
	if err := decodeBlob(files, manifest.Config, &config); err != nil {
		return Image{}, err
	}
	img := Image{
		Name:         m.Annotations["io.containerd.image.name"],
		Architecture: config.Architecture,
		Entrypoint:   config.Config.Entrypoint,
		Cmd:          config.Config.Cmd,
		Env:          config.Config.Env,
		User:         config.Config.User,
		Labels:       config.Config.Labels,
	}
	if img.Name == "" {
		img.Name = m.Annotations["org.opencontainers.image.ref.name"]
	}
	tree := map[string]Entry{}
	for _, l := range manifest.Layers {
		b, err := readBlob(files, l)
		if err != nil {
			return Image{}, err
		}
		if err := applyLayer(tree, b); err != nil {
			return Image{}, fmt.Errorf("read layer %s: %w", l.Digest, err)
		}
	}
	for _, e := range tree {
		img.Entries = append(img.Entries, e)
	}
	sort.Slice(img.Entries, func(i, j int) bool { return img.Entries[i].Path < img.Entries[j].Path })
	return img, nil
}

type readDescriptor struct {
	Digest      string            `json:"digest"`
	Annotations map[string]string `json:"annotations"`
}

// readFiles returns the regular files of a tarball by name.
func readFiles(b []byte) (map[string][]byte, error) {
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read image tar: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("read image tar %s: %w", h.Name, err)
		}
		files[path.Clean(h.Name)] = data
	}
}

// readBlob returns the blob d names (index.json by its file name), checked
// against its digest.
func readBlob(files map[string][]byte, d readDescriptor) ([]byte, error) {
	if d.Digest == "index.json" {
		b, ok := files["index.json"]
		if !ok {
			return nil, errors.New("read image: no index.json")
		}
		return b, nil
	}
	b, ok := files["blobs/"+strings.Replace(d.Digest, ":", "/", 1)]
	if !ok {
		return nil, fmt.Errorf("read image: no blob %s", d.Digest)
	}
	if got := digest(b); got != d.Digest {
		return nil, fmt.Errorf("read image: blob %s has digest %s", d.Digest, got)
	}
	return b, nil
}

func decodeBlob(files map[string][]byte, d readDescriptor, v any) error {
	b, err := readBlob(files, d)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read image: decode %s: %w", d.Digest, err)
	}
	return nil
}

// applyLayer adds a layer's entries to tree, as a container runtime
// unpacks it over the layers below: a ".wh." file deletes the entry it
// names, ".wh..wh..opq" the directory's earlier contents. Hard links become
// copies of their target.
func applyLayer(tree map[string]Entry, layer []byte) error {
	var r io.Reader = bytes.NewReader(layer)
	if bytes.HasPrefix(layer, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("decompress: %w", err)
		}
		r = zr
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if p == "" {
			continue
		}
		dir, base := path.Split(p)
		if base == ".wh..wh..opq" {
			removeTree(tree, strings.TrimSuffix(dir, "/"), false)
			continue
		}
		if strings.HasPrefix(base, ".wh.") {
			removeTree(tree, dir+strings.TrimPrefix(base, ".wh."), true)
			continue
		}
		e := Entry{Path: p, Mode: h.Mode & 0o7777}
		switch h.Typeflag {
		case tar.TypeDir:
			e.Dir = true
		case tar.TypeSymlink:
			e.Linkname = h.Linkname
		case tar.TypeReg:
			if e.Data, err = io.ReadAll(tr); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		case tar.TypeLink:
			target, ok := tree[strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")]
			if !ok {
				return fmt.Errorf("%s: hard link to missing %s", p, h.Linkname)
			}
			e.Data = target.Data
		default:
			return fmt.Errorf("%s: unsupported entry type %q", p, h.Typeflag)
		}
		tree[p] = e
	}
}

// removeTree deletes dir's descendants, and dir itself if self.
func removeTree(tree map[string]Entry, dir string, self bool) {
	for p := range tree {
		if (self && p == dir) || strings.HasPrefix(p, dir+"/") || (dir == "" && !self) {
			delete(tree, p)
		}
	}
}
