package testenv

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/prereq"
)

// Containerd is a private containerd (its own root, state and socket; the
// CRI plugin off) with the busybox test image imported.
//
// Its pod containers live below a cgroup root of its own, as on a node whose
// kubelet runs with --cgroup-root: tests in other packages run at the same
// time, and a shared /kubepods would be removed under one test by another's
// cleanup.
type Containerd struct {
	t    testing.TB
	dir  string
	sock string
	cmd  *exec.Cmd
	// nodeRoot is this instance's kubelet --cgroup-root, relative to the
	// cgroup2 mount ("/capprof-node-<hex>").
	nodeRoot string
	// cgroups are the containers' cgroup paths, removed at cleanup.
	cgroups []string
}

// StartContainerd starts containerd for the test and stops it at cleanup,
// after killing and deleting every container the test ran.
func StartContainerd(t testing.TB) *Containerd {
	t.Helper()
	prereq.RequireRoot(t)
	prereq.RequireCommands(t, "containerd", "ctr", "runc", "busybox")
	dir, err := os.MkdirTemp("", "capprof-containerd-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Containerd{t: t, dir: dir, sock: filepath.Join(dir, "containerd.sock"), nodeRoot: "/capprof-node-" + randomHex(6)}
	// The pods' directory exists before any container, as on a node where
	// the kubelet runs: recordings that include it open it at start.
	resolver, err := cgroup.NewResolver(cgroup.Options{})
	if err != nil {
		prereq.Missing(t, "a cgroup2 mount: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(resolver.Root(), c.Kubepods()), 0o755); err != nil {
		t.Fatal(err)
	}
	c.cgroups = append(c.cgroups, c.Kubepods())
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.sock, c.sock+".ttrpc")
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	c.cmd = exec.Command("containerd", "--config", cfgPath)
	c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start containerd: %v", err)
	}
	t.Cleanup(c.stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := exec.Command("ctr", "-a", c.sock, "version").Run(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("containerd did not start:\n%s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	image := filepath.Join(dir, "busybox-oci.tar")
	busybox, _ := exec.LookPath("busybox")
	if err := BuildBusyboxImage(busybox, image); err != nil {
		t.Fatal(err)
	}
	c.ctr("image", "import", image)
	return c
}

// Dir is containerd's private directory (root, state, socket): every mount
// and process of its containers names it, which lets tests check that
// nothing outlives them.
func (c *Containerd) Dir() string { return c.dir }

// NodeRoot is this containerd's kubelet --cgroup-root, relative to the
// cgroup2 mount.
func (c *Containerd) NodeRoot() string { return c.nodeRoot }

// Kubepods is the cgroup below which this containerd's pod containers
// run, relative to the cgroup2 mount: a recording's include filter.
func (c *Containerd) Kubepods() string { return path.Join(c.nodeRoot, "kubepods") }

// PodCgroup is the cgroup of container id in pod podUID, as the kubelet's
// cgroupfs driver lays it out below Kubepods.
func (c *Containerd) PodCgroup(podUID, id string) string {
	return path.Join(c.Kubepods(), "besteffort", "pod"+podUID, id)
}

// Container is a running container with a Kubernetes-shaped cgroup.
type Container struct {
	ID     string // 64 hex
	PodUID string
	Cgroup string // relative cgroup path
	PID    int    // the init process
}

// RunPodContainer runs a busybox container that sleeps, in the cgroup
// PodCgroup(uid, id), for a random pod UID.
func (c *Containerd) RunPodContainer() Container {
	c.t.Helper()
	return c.RunContainerInPod(randomUUID())
}

// RunContainerInPod is RunPodContainer in the cgroup of pod podUID: a pod
// created in the API server first gives its UID.
func (c *Containerd) RunContainerInPod(podUID string) Container {
	c.t.Helper()
	return c.RunContainerInNodePod(c.nodeRoot, podUID)
}

// RunContainerInNodePod is RunContainerInPod on a node whose kubelet runs
// with --cgroup-root=cgroupRoot: several nodes on one machine, each with
// its own pod cgroup tree <cgroupRoot>/kubepods.
func (c *Containerd) RunContainerInNodePod(cgroupRoot, podUID string) Container {
	c.t.Helper()
	ctr := Container{ID: randomHex(32), PodUID: podUID}
	ctr.Cgroup = path.Join(cgroupRoot, "kubepods", "besteffort", "pod"+ctr.PodUID, ctr.ID)
	ctr.PID = c.Run(ctr.ID, BusyboxImage, ctr.Cgroup, nil, "sleep", "3600")
	return ctr
}

// ImportImage imports an OCI image layout tarball (as `make image` writes).
func (c *Containerd) ImportImage(tarball string) {
	c.t.Helper()
	c.ctr("image", "import", tarball)
}

// ImportNamedImage imports an OCI archive that names its image only by the
// org.opencontainers.image.ref.name annotation, as `buildah push
// oci-archive:FILE:NAME` writes it: ctr keeps such a full reference only
// under --base-name, its repository. A missing image fails the test.
func (c *Containerd) ImportNamedImage(tarball, name string) {
	c.t.Helper()
	repo := name
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		repo = name[:i]
	}
	c.ctr("image", "import", "--base-name", repo, tarball)
	if !slices.Contains(strings.Fields(c.ctr("image", "ls", "-q")), name) {
		c.t.Fatalf("ctr image import %s: no image %s", tarball, name)
	}
}

// Run starts container id from image, detached, in cgroup (relative to the
// cgroup root) with extra `ctr run` flags, and returns its init PID. args
// replace the image's entrypoint and command, as `ctr run` does. Cleanup
// kills and deletes it with every other container.
func (c *Containerd) Run(id, image, cgroup string, flags []string, args ...string) int {
	c.t.Helper()
	run := append([]string{"run", "-d", "--cgroup", cgroup}, flags...)
	c.cgroups = append(c.cgroups, cgroup)
	c.ctr(append(append(run, image, id), args...)...)
	out := c.ctr("task", "ls")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == id {
			if pid, err := strconv.Atoi(f[1]); err == nil && pid > 0 {
				return pid
			}
		}
	}
	c.t.Fatalf("no task pid for container %s in:\n%s", id, out)
	return 0
}

// RunToExit runs container id like Run but waits for it to exit, removes
// it, and returns its exit code and output. A failure to run it at all is
// fatal; the container's own failure is its exit code.
func (c *Containerd) RunToExit(id, image, cgroup string, flags []string, args ...string) (int, string) {
	c.t.Helper()
	run := append([]string{"-a", c.sock, "-n", "k8s.io", "run", "--rm", "--cgroup", cgroup}, flags...)
	// runc removes the container's cgroup with the task; the pod's and QoS
	// class's directories it created are left for cleanup.
	c.cgroups = append(c.cgroups, cgroup)
	cmd := exec.Command("ctr", append(append(run, image, id), args...)...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		c.t.Fatalf("ctr run %s: %v\n%s", id, err, out)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// Exec runs a command in the container as uid and waits for it; the
// command's own failure is returned, not fatal (dmesg is meant to fail).
func (c *Containerd) Exec(ctr Container, uid int, args ...string) (string, error) {
	c.t.Helper()
	out, err := c.ExecCommand(ctr, uid, args...).CombinedOutput()
	return string(out), err
}

// ExecCommand is the `ctr task exec` command that Exec runs, for a caller
// that starts it and talks to it while it runs.
func (c *Containerd) ExecCommand(ctr Container, uid int, args ...string) *exec.Cmd {
	execArgs := append([]string{"-a", c.sock, "-n", "k8s.io", "task", "exec", "--exec-id", "e" + randomHex(4),
		"--user", strconv.Itoa(uid), ctr.ID}, args...)
	return exec.Command("ctr", execArgs...)
}

func (c *Containerd) ctr(args ...string) string {
	c.t.Helper()
	full := append([]string{"-a", c.sock, "-n", "k8s.io"}, args...)
	out, err := exec.Command("ctr", full...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// stop kills and deletes the tasks and containers, stops containerd and
// removes what runc leaves outside the private directory.
func (c *Containerd) stop() {
	run := func(args ...string) []byte {
		out, _ := exec.Command("ctr", append([]string{"-a", c.sock, "-n", "k8s.io"}, args...)...).Output()
		return out
	}
	for _, line := range strings.Split(string(run("containers", "ls", "-q")), "\n") {
		id := strings.TrimSpace(line)
		if id == "" {
			continue
		}
		run("task", "kill", "-s", "KILL", id)
		for i := 0; i < 50; i++ {
			if out := run("task", "delete", id); len(out) > 0 || !bytes.Contains(run("task", "ls", "-q"), []byte(id)) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		run("containers", "delete", id)
	}
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	}
	// Containers' cgroups first: Kubepods goes once they have.
	for _, cg := range slices.Backward(c.cgroups) {
		removeCgroup(cg)
	}
	_ = os.RemoveAll(c.dir)
}

// removeCgroup removes a container's cgroup, relative to the cgroup root,
// in every hierarchy (cgroup2 and each v1 controller), and then its parents
// while they are empty: the pod's and the QoS class's directories, which
// runc created for it. Other tests' cgroups are left alone: a directory
// that still has children or processes cannot be removed.
func removeCgroup(cg string) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	for _, root := range roots {
		for p := filepath.Join(root, cg); p != root && strings.HasPrefix(p, root+"/"); p = filepath.Dir(p) {
			// runc removes the container's own cgroup when the task is
			// deleted; its parents are still to be removed.
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				break
			}
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomUUID() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
