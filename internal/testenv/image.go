package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/capprof/capprof/internal/ociimage"
)

// BusyboxImage is the name under which BuildBusyboxImage's image imports.
const BusyboxImage = "docker.io/library/capprof-busybox:test"

// BuildBusyboxImage writes an OCI image layout tarball holding busybox
// (from the busybox-static package) with a link per applet: a container
// image made without a registry or a Docker daemon.
func BuildBusyboxImage(busybox, out string) error {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return fmt.Errorf("read busybox: %w", err)
	}
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("list busybox applets: %w", err)
	}
	var entries []ociimage.Entry
	for _, dir := range []string{"bin", "tmp", "proc", "sys", "dev", "etc"} {
		entries = append(entries, ociimage.Dir(dir))
	}
	entries = append(entries, ociimage.File("bin/busybox", bin, 0o755))
	for _, a := range strings.Fields(string(list)) {
		if a != "busybox" {
			entries = append(entries, ociimage.Symlink("bin/"+a, "busybox"))
		}
	}
	entries = append(entries, ociimage.File("etc/passwd",
		[]byte("root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"), 0o644))
	return ociimage.Write(ociimage.Image{
		Name:         BusyboxImage,
		Architecture: runtime.GOARCH,
		Entries:      entries,
		Env:          []string{"PATH=/bin"},
		Cmd:          []string{"sh"},
	}, out)
}
