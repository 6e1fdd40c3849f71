// Program ociimage packs files into a single-layer OCI image layout tarball
// without a container daemon or a registry; `make image` builds the agent
// image (bin/otelcol-capprof-image.tar) with it, the docker-free twin of the
// Dockerfile's image. `ctr image import` loads the result.
//
//	ociimage -name docker.io/capprof/otelcol-capprof:dev -o image.tar \
//	  -entrypoint /otelcol-capprof -user 0:0 \
//	  -dir tmp -file bin/otelcol-capprof:otelcol-capprof:0755
//
// -file SRC:DST[:MODE] copies a host file into the image at DST (mode 0644
// unless given, in octal); -dir DST adds an empty directory; -entrypoint,
// -cmd and -env may be repeated.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/capprof/capprof/internal/ociimage"
)

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("ociimage", flag.ContinueOnError)
	var img ociimage.Image
	var out string
	var files, dirs, entrypoint, cmd, env, labels list
	fs.StringVar(&img.Name, "name", "", "image reference, e.g. docker.io/capprof/otelcol-capprof:v0.1.0")
	fs.StringVar(&img.Architecture, "arch", runtime.GOARCH, "image architecture (GOARCH spelling)")
	fs.StringVar(&img.User, "user", "", "user[:group] the image runs as")
	fs.StringVar(&out, "o", "", "output tarball")
	fs.Var(&files, "file", "SRC:DST[:MODE] host file to copy into the image (repeatable)")
	fs.Var(&dirs, "dir", "empty directory to create (repeatable)")
	fs.Var(&entrypoint, "entrypoint", "entrypoint word (repeatable)")
	fs.Var(&cmd, "cmd", "default argument word (repeatable)")
	fs.Var(&env, "env", "KEY=VALUE environment variable (repeatable)")
	fs.Var(&labels, "label", "KEY=VALUE image label (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if out == "" || img.Name == "" || fs.NArg() > 0 {
		return errors.New("usage: ociimage -name REF -o OUT [-file SRC:DST[:MODE]]... [-dir DST]... [-entrypoint W]...")
	}
	for _, d := range dirs {
		img.Entries = append(img.Entries, ociimage.Dir(d))
	}
	for _, f := range files {
		e, err := fileEntry(f)
		if err != nil {
			return err
		}
		img.Entries = append(img.Entries, e)
	}
	img.Entrypoint, img.Cmd, img.Env = entrypoint, cmd, env
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return fmt.Errorf("label %q: want KEY=VALUE", l)
		}
		if img.Labels == nil {
			img.Labels = map[string]string{}
		}
		img.Labels[k] = v
	}
	return ociimage.Write(img, out)
}

// fileEntry reads SRC of "SRC:DST[:MODE]".
func fileEntry(spec string) (ociimage.Entry, error) {
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return ociimage.Entry{}, fmt.Errorf("file %q: want SRC:DST[:MODE]", spec)
	}
	mode := int64(0o644)
	if len(parts) == 3 {
		m, err := strconv.ParseInt(parts[2], 8, 32)
		if err != nil {
			return ociimage.Entry{}, fmt.Errorf("file %q: mode: %w", spec, err)
		}
		mode = m
	}
	data, err := os.ReadFile(parts[0])
	if err != nil {
		return ociimage.Entry{}, fmt.Errorf("file %q: %w", spec, err)
	}
	return ociimage.File(parts[1], data, mode), nil
}
