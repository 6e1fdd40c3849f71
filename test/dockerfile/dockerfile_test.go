//go:build dockerfile

package dockerfile

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/ociimage"
	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/testenv"
)

// The name and version both images are built with.
const (
	image   = "docker.io/capprof/otelcol-capprof:dockerfile-test"
	version = "0.0.0-dockerfile-test"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// run runs a command in the repository root, fails the test with its
// output if it fails, and logs how long it took.
func run(t *testing.T, name string, args ...string) {
	t.Helper()
	start := time.Now()
	cmd := exec.Command(name, args...)
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	t.Logf("%s %s: %s", name, args[0], time.Since(start).Round(time.Second))
}

func readImage(t *testing.T, tarball string) ociimage.Image {
	t.Helper()
	b, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	img, err := ociimage.Read(b)
	if err != nil {
		t.Fatalf("%s: %v", tarball, err)
	}
	return img
}

// TestDockerfileBuildsMakeImage builds the Dockerfile with buildah and
// `make image` from the same tree and version: the two images must hold the
// same files (the binary byte for byte: both are -trimpath builds by the
// same Go) and run the same way, and the Dockerfile's must run under
// containerd.
func TestDockerfileBuildsMakeImage(t *testing.T) {
	prereq.RequireRoot(t)
	prereq.RequireCommands(t, "buildah", "runc", "make", "go")
	dir := t.TempDir()
	fromMake, fromDockerfile := filepath.Join(dir, "make-image.tar"), filepath.Join(dir, "dockerfile-image.tar")
	run(t, "make", "image", "IMAGE="+image, "IMAGE_TAR="+fromMake, "VERSION="+version)
	run(t, "test/dockerfile/build.sh", fromDockerfile, image, version)

	want, got := readImage(t, fromMake), readImage(t, fromDockerfile)
	if got.Name != image || got.Architecture != runtime.GOARCH {
		t.Errorf("Dockerfile image %q for %s, want %q for %s", got.Name, got.Architecture, image, runtime.GOARCH)
	}
	files := map[string]ociimage.Entry{}
	for _, e := range want.Entries {
		files[e.Path] = e
	}
	for _, e := range got.Entries {
		w, ok := files[e.Path]
		delete(files, e.Path)
		switch {
		case !ok:
			t.Errorf("the Dockerfile's image has /%s, make image's not", e.Path)
		case !reflect.DeepEqual(e, w):
			t.Errorf("/%s differs: Dockerfile %s, make image %s", e.Path, describe(e), describe(w))
		}
	}
	for p := range files {
		t.Errorf("make image's image has /%s, the Dockerfile's not", p)
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"entrypoint", got.Entrypoint, want.Entrypoint},
		{"command", got.Cmd, want.Cmd},
		{"user", got.User, want.User},
		{"labels", got.Labels, want.Labels},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: Dockerfile %q, make image %q", c.what, c.got, c.want)
		}
	}
	if want.Labels["org.opencontainers.image.version"] != version {
		t.Errorf("make image's labels %v lack version %s", want.Labels, version)
	}

	ctrd := testenv.StartContainerd(t)
	ctrd.ImportNamedImage(fromDockerfile, image)
	id := testenv.ContainerID()
	code, out := ctrd.RunToExit(id, image, ctrd.PodCgroup(testenv.PodUID(), id), nil,
		append(got.Entrypoint, "--version")...)
	if code != 0 || !strings.Contains(out, version) {
		t.Errorf("otelcol-capprof --version in the Dockerfile's image: exit %d, output %q, want %s", code, out, version)
	}
}

// describe is an entry without its content, for messages.
func describe(e ociimage.Entry) string {
	switch {
	case e.Dir:
		return fmt.Sprintf("directory %o", e.Mode)
	case e.Linkname != "":
		return "link to " + e.Linkname
	}
	return fmt.Sprintf("file %o of %d bytes, sha256 %x", e.Mode, len(e.Data), sha256.Sum256(e.Data))
}
