package cgroup

import (
	"errors"
	"fmt"
	"github.com/capprof/capprof/internal/prereq"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeClock is a settable time source for the negative cache.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// makeTree creates the given cgroup paths as directories under a new
// temporary root, plus a cgroup.procs file in each, as in cgroupfs.
func makeTree(t *testing.T, paths ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, p := range paths {
		dir := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// inode returns the inode number of root/p, independently of the package.
func inode(t *testing.T, root, p string) uint64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(p)))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// newTestResolver returns a Resolver for root whose clock only moves when
// the test says so.
func newTestResolver(t *testing.T, root string, maxEntries int) (*Resolver, *fakeClock) {
	t.Helper()
	r, err := NewResolver(Options{Root: root, MaxEntries: maxEntries})
	if err != nil {
		t.Fatalf("NewResolver: %v", err)
	}
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	r.now = clock.now
	return r, clock
}

// walkCount reads the number of walks so far.
func walkCount(r *Resolver) int {
	r.walkMu.Lock()
	defer r.walkMu.Unlock()
	return r.walks
}

var treePaths = []string{
	"/system.slice/ssh.service",
	"/system.slice/docker-" + cid3 + ".scope",
	"/kubepods/besteffort/pod" + uid1 + "/" + cid1,
	"/kubepods/burstable/pod" + uid2 + "/" + cid2 + "/init.scope",
	"/kubepods.slice/kubepods-pod" + systemdUID(uid1) + ".slice/cri-containerd-" + cid1 + ".scope",
	"/dir with space",
}

func TestResolverPathAndContainer(t *testing.T) {
	root := makeTree(t, treePaths...)
	tests := []struct {
		name string
		path string
		want Container
	}{
		{name: "root", path: "/"},
		{name: "host service", path: "/system.slice/ssh.service"},
		{name: "intermediate", path: "/kubepods/besteffort"},
		{name: "docker", path: "/system.slice/docker-" + cid3 + ".scope", want: Container{ID: cid3, Runtime: RuntimeDocker}},
		{name: "pod", path: "/kubepods/besteffort/pod" + uid1, want: Container{PodUID: uid1}},
		{name: "pod container", path: "/kubepods/besteffort/pod" + uid1 + "/" + cid1, want: Container{ID: cid1, PodUID: uid1}},
		{name: "container sub-cgroup", path: "/kubepods/burstable/pod" + uid2 + "/" + cid2 + "/init.scope", want: Container{ID: cid2, PodUID: uid2}},
		{
			name: "systemd container",
			path: "/kubepods.slice/kubepods-pod" + systemdUID(uid1) + ".slice/cri-containerd-" + cid1 + ".scope",
			want: Container{ID: cid1, Runtime: RuntimeContainerd, PodUID: uid1},
		},
		{name: "space in name", path: "/dir with space"},
	}
	r, _ := newTestResolver(t, root, 0)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := inode(t, root, tc.path)
			got, err := r.Path(id)
			if err != nil || got != tc.path {
				t.Fatalf("Path(%d) = %q, %v; want %q, nil", id, got, err, tc.path)
			}
			c, p, err := r.Container(id)
			if err != nil || p != tc.path || c != tc.want {
				t.Fatalf("Container(%d) = %+v, %q, %v; want %+v, %q, nil", id, c, p, err, tc.want, tc.path)
			}
		})
	}
	if n := walkCount(r); n != 1 {
		t.Errorf("resolving %d cgroups took %d walks, want 1", len(tests), n)
	}
}

func TestResolverID(t *testing.T) {
	root := makeTree(t, treePaths...)
	r, _ := newTestResolver(t, root, 0)
	kubepods := inode(t, root, "/kubepods")
	tests := []struct {
		name     string
		path     string
		want     uint64
		notFound bool // error wraps ErrNotFound
		wantErr  bool // any other error
	}{
		{name: "root", path: "/", want: inode(t, root, "/")},
		{name: "empty is root", path: "", want: inode(t, root, "/")},
		{name: "absolute", path: "/kubepods", want: kubepods},
		{name: "relative", path: "kubepods", want: kubepods},
		{name: "trailing slash", path: "/kubepods/", want: kubepods},
		{name: "dot dot stays inside root", path: "/../../kubepods", want: kubepods},
		{name: "deep", path: "/kubepods/besteffort/pod" + uid1 + "/" + cid1, want: inode(t, root, "/kubepods/besteffort/pod"+uid1+"/"+cid1)},
		{name: "missing", path: "/kubepods/guaranteed", notFound: true},
		{name: "file", path: "/system.slice/ssh.service/cgroup.procs", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.ID(tc.path)
			switch {
			case tc.notFound:
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("ID(%q) error = %v, want ErrNotFound", tc.path, err)
				}
			case tc.wantErr:
				if err == nil || errors.Is(err, ErrNotFound) {
					t.Fatalf("ID(%q) error = %v, want an error other than ErrNotFound", tc.path, err)
				}
			case err != nil || got != tc.want:
				t.Fatalf("ID(%q) = %d, %v; want %d, nil", tc.path, got, err, tc.want)
			}
		})
	}
	// ID seeds the cache, so Path needs no walk for what ID resolved.
	if p, err := r.Path(kubepods); err != nil || p != "/kubepods" {
		t.Errorf("Path(%d) = %q, %v; want %q, nil", kubepods, p, err, "/kubepods")
	}
	if n := walkCount(r); n != 0 {
		t.Errorf("walks = %d, want 0", n)
	}
}

func TestResolverNotFound(t *testing.T) {
	const gone = "/kubepods/besteffort/pod" + uid1 + "/" + cid1
	root := makeTree(t, gone, "/system.slice/ssh.service")
	id := inode(t, root, gone)
	if err := os.RemoveAll(filepath.Join(root, filepath.FromSlash(gone))); err != nil {
		t.Fatal(err)
	}
	r, clock := newTestResolver(t, root, 0)

	tests := []struct {
		name      string
		advance   time.Duration
		wantWalks int
	}{
		{name: "first miss walks", wantWalks: 1},
		{name: "repeat is served by the negative cache", wantWalks: 1},
		{name: "still cached just before expiry", advance: missTTL - time.Nanosecond, wantWalks: 1},
		{name: "walks again after expiry", advance: time.Nanosecond, wantWalks: 2},
		{name: "and caches the new result", wantWalks: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock.advance(tc.advance)
			p, err := r.Path(id)
			if !errors.Is(err, ErrNotFound) || p != "" {
				t.Fatalf("Path(%d) = %q, %v; want ErrNotFound", id, p, err)
			}
			c, p, err := r.Container(id)
			if !errors.Is(err, ErrNotFound) || p != "" || c != (Container{}) {
				t.Fatalf("Container(%d) = %+v, %q, %v; want zero, ErrNotFound", id, c, p, err)
			}
			if n := walkCount(r); n != tc.wantWalks {
				t.Errorf("walks = %d, want %d", n, tc.wantWalks)
			}
		})
	}
}

func TestResolverConcurrentMisses(t *testing.T) {
	root := makeTree(t, "/a/b", "/c")
	missing := inode(t, root, "/c")
	if err := os.Remove(filepath.Join(root, "c", "cgroup.procs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "c")); err != nil {
		t.Fatal(err)
	}
	r, _ := newTestResolver(t, root, 0)

	const burst = 64
	var wg sync.WaitGroup
	errs := make(chan error, burst)
	for range burst {
		wg.Go(func() {
			if _, err := r.Path(missing); !errors.Is(err, ErrNotFound) {
				errs <- fmt.Errorf("Path(%d) error = %v, want ErrNotFound", missing, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := walkCount(r); n != 1 {
		t.Errorf("a burst of %d misses took %d walks, want 1", burst, n)
	}
}

func TestResolverWalkCachesEverything(t *testing.T) {
	var paths []string
	for i := range 300 {
		paths = append(paths, fmt.Sprintf("/kubepods/besteffort/pod%08x-0000-4000-8000-000000000000/%064x", i, i))
	}
	root := makeTree(t, paths...)
	r, _ := newTestResolver(t, root, 0)
	for _, p := range paths {
		id := inode(t, root, p)
		if got, err := r.Path(id); err != nil || got != p {
			t.Fatalf("Path(%d) = %q, %v; want %q, nil", id, got, err, p)
		}
	}
	if n := walkCount(r); n != 1 {
		t.Errorf("resolving %d cgroups took %d walks, want 1", len(paths), n)
	}
}

func TestResolverEviction(t *testing.T) {
	const limit = 3
	var paths []string
	for i := range 10 {
		paths = append(paths, fmt.Sprintf("/system.slice/unit-%d.service", i))
	}
	root := makeTree(t, paths...)
	r, _ := newTestResolver(t, root, limit)

	tests := []struct {
		name string
		path string
	}{
		{name: "first", path: paths[0]},
		{name: "last", path: paths[9]},
		{name: "middle", path: paths[4]},
		{name: "first again", path: paths[0]},
		{name: "root", path: "/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := inode(t, root, tc.path)
			if got, err := r.Path(id); err != nil || got != tc.path {
				t.Fatalf("Path(%d) = %q, %v; want %q, nil", id, got, err, tc.path)
			}
			r.mu.Lock()
			n := r.paths.len()
			r.mu.Unlock()
			if n > limit {
				t.Errorf("cache holds %d entries, bound is %d", n, limit)
			}
		})
	}
}

func TestResolverRemember(t *testing.T) {
	root := makeTree(t, "/a")
	r, _ := newTestResolver(t, root, 0)
	const seeded = uint64(1) << 60 // no such inode in the temporary tree

	// A miss first, so Remember has a negative entry to cancel.
	if _, err := r.Path(seeded); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Path(%d) error = %v, want ErrNotFound", seeded, err)
	}
	tests := []struct {
		name string
		id   uint64
		path string
		want string
	}{
		{name: "cancels a recent miss", id: seeded, path: "/kubepods/besteffort/pod" + uid1, want: "/kubepods/besteffort/pod" + uid1},
		{name: "cleans the path", id: seeded + 1, path: "kubepods//x/./y/", want: "/kubepods/x/y"},
		{name: "replaces an entry", id: seeded + 1, path: "/z", want: "/z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r.Remember(tc.id, tc.path)
			if got, err := r.Path(tc.id); err != nil || got != tc.want {
				t.Fatalf("Path(%d) = %q, %v; want %q, nil", tc.id, got, err, tc.want)
			}
		})
	}
	r.Remember(0, "/a")
	r.mu.Lock()
	_, cached := r.paths.get(0)
	r.mu.Unlock()
	if cached {
		t.Error("Remember(0, ...) was cached")
	}
	if n := walkCount(r); n != 1 {
		t.Errorf("walks = %d, want 1", n)
	}
}

// TestResolverRememberRemovedCgroups is the recorder's use of Remember: the
// kernel reports each cgroup's creation, so a cgroup removed before its
// checks are read still resolves, while a node's churn of short-lived
// cgroups keeps the memory within MaxEntries, dropping the least recently
// used first.
func TestResolverRememberRemovedCgroups(t *testing.T) {
	const limit = 8
	root := makeTree(t, "/kubepods/besteffort/pod"+uid1+"/"+cid1)
	r, _ := newTestResolver(t, root, limit)

	ctrPath := "/kubepods/besteffort/pod" + uid1 + "/" + cid1
	id := inode(t, root, ctrPath)
	r.Remember(id, ctrPath)
	if err := os.Remove(filepath.Join(root, ctrPath, "cgroup.procs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, ctrPath)); err != nil {
		t.Fatal(err)
	}
	ctr, got, err := r.Container(id)
	if err != nil || got != ctrPath || ctr.ID != cid1 || ctr.PodUID != uid1 {
		t.Fatalf("Container(%d) of a removed cgroup = %+v, %q, %v; want %s in pod %s", id, ctr, got, err, cid1, uid1)
	}

	// Many more cgroups than the bound come and go.
	const churn = 1000
	base := uint64(1) << 60 // no such inode in the temporary tree
	for i := range uint64(churn) {
		r.Remember(base+i, fmt.Sprintf("/kubepods/besteffort/pod%s/%064x", uid1, i))
	}
	r.mu.Lock()
	n := r.paths.len()
	r.mu.Unlock()
	if n != limit {
		t.Errorf("cache holds %d entries after %d cgroups, want the bound %d", n, churn+1, limit)
	}
	for i := uint64(churn - limit); i < churn; i++ {
		want := fmt.Sprintf("/kubepods/besteffort/pod%s/%064x", uid1, i)
		if got, err := r.Path(base + i); err != nil || got != want {
			t.Errorf("Path(%d) = %q, %v; want the remembered %q", base+i, got, err, want)
		}
	}
	if n := walkCount(r); n != 0 {
		t.Errorf("walks = %d, want 0: the remembered cgroups resolve from memory", n)
	}
	// The oldest were forgotten; being removed, they are not found.
	for _, old := range []uint64{id, base} {
		if _, err := r.Path(old); !errors.Is(err, ErrNotFound) {
			t.Errorf("Path(%d) of an evicted, removed cgroup: error = %v, want ErrNotFound", old, err)
		}
	}
}

func TestResolverRootRemoved(t *testing.T) {
	root := makeTree(t, "/a")
	r, _ := newTestResolver(t, root, 0)
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	// An unreadable root is a failure of the resolver, not evidence that
	// the cgroup is gone.
	if _, err := r.Path(42); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Path after removing the root: error = %v, want an error other than ErrNotFound", err)
	}
}

func TestNewResolver(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "target")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		opts     Options
		wantRoot string
		wantErr  bool
	}{
		{name: "directory", opts: Options{Root: target}, wantRoot: target},
		{name: "trailing slash", opts: Options{Root: target + "/"}, wantRoot: target},
		{name: "symlink is resolved", opts: Options{Root: link}, wantRoot: target},
		{name: "missing", opts: Options{Root: filepath.Join(dir, "missing")}, wantErr: true},
		{name: "not a directory", opts: Options{Root: file}, wantErr: true},
		{name: "negative bound", opts: Options{Root: target, MaxEntries: -1}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewResolver(tc.opts)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("NewResolver(%+v) succeeded, want an error", tc.opts)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewResolver(%+v): %v", tc.opts, err)
			}
			if r.Root() != tc.wantRoot {
				t.Errorf("Root() = %q, want %q", r.Root(), tc.wantRoot)
			}
		})
	}
}

// TestResolverHost resolves this process's own cgroup on the real cgroup2
// mount, on pure v2 and hybrid hosts alike.
func TestResolverHost(t *testing.T) {
	r, err := NewResolver(Options{})
	if errors.Is(err, ErrNoCgroup2Mount) {
		prereq.Missing(t, "a cgroup2 mount")
	}
	if err != nil {
		t.Fatalf("NewResolver: %v", err)
	}
	p, err := PathOfPID("/proc", os.Getpid())
	if err != nil {
		t.Fatalf("PathOfPID: %v", err)
	}
	id, err := r.ID(p)
	if err != nil {
		t.Fatalf("ID(%q) under %s: %v", p, r.Root(), err)
	}
	t.Logf("cgroup2 at %s; this process is in %q, id %d", r.Root(), p, id)

	// A fresh resolver has to find the id by walking the real tree.
	fresh, err := NewResolver(Options{})
	if err != nil {
		t.Fatalf("NewResolver: %v", err)
	}
	c, got, err := fresh.Container(id)
	if err != nil || got != p {
		t.Fatalf("Container(%d) path = %q, %v; want %q, nil", id, got, err, p)
	}
	if want := ParsePath(p); c != want {
		t.Errorf("Container(%d) = %+v, want %+v", id, c, want)
	}
}

// BenchmarkResolverWalk measures a cold lookup in a tree the size of a busy
// node: 500 pods with 3 containers each.
func BenchmarkResolverWalk(b *testing.B) {
	root := b.TempDir()
	var last string
	for pod := range 500 {
		for ctr := range 3 {
			last = fmt.Sprintf("/kubepods/burstable/pod%08x-0000-4000-8000-000000000000/%062x%02x", pod, pod, ctr)
			if err := os.MkdirAll(filepath.Join(root, last), 0o755); err != nil {
				b.Fatal(err)
			}
		}
	}
	fi, err := os.Stat(filepath.Join(root, last))
	if err != nil {
		b.Fatal(err)
	}
	id := fi.Sys().(*syscall.Stat_t).Ino
	b.ResetTimer()
	for b.Loop() {
		r, err := NewResolver(Options{Root: root})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Path(id); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResolverHit(b *testing.B) {
	r, err := NewResolver(Options{Root: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	r.Remember(42, "/kubepods/besteffort/pod"+uid1+"/"+cid1)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := r.Container(42); err != nil {
			b.Fatal(err)
		}
	}
}
