package proc

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is an injectable Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

// fakeProc describes one /proc/<pid> directory of a fake proc root.
type fakeProc struct {
	pid, ppid  uint32
	tgid       uint32 // 0 means pid
	comm       string
	state      string // "" means "S"
	startTicks uint64
	uid, euid  uint32
	args       []string // nil writes an empty cmdline, as for kernel threads
	exe, cwd   string   // "" means no link, as for kernel threads
	nspid      []uint32 // the NSpid line; nil writes none
	loginUID   string   // the loginuid file; "" writes none, as without CONFIG_AUDIT
	// ns, when set, is the directory the ns link points to: processes that
	// share it share their namespaces (see writeFakeNamespaces).
	ns string
}

func writeFakeProc(t *testing.T, root string, p fakeProc) {
	t.Helper()
	dir := filepath.Join(root, strconv.FormatUint(uint64(p.pid), 10))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	state := p.state
	if state == "" {
		state = "S"
	}
	tgid := p.tgid
	if tgid == 0 {
		tgid = p.pid
	}
	// Fields 4-9, 10-17, 18-21, then starttime (22) and a few more.
	stat := fmt.Sprintf("%d (%s) %s %d %d %d 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 %d 1000 100 18446744073709551615\n",
		p.pid, p.comm, state, p.ppid, p.pid, p.pid, p.startTicks)
	status := fmt.Sprintf("Name:\t%s\nUmask:\t0022\nState:\t%s\nTgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\nUid:\t%d\t%d\t%d\t%d\nGid:\t0\t0\t0\t0\n",
		p.comm, state, tgid, p.pid, p.ppid, p.uid, p.euid, p.euid, p.euid)
	if p.nspid != nil {
		status += "NSpid:"
		for _, n := range p.nspid {
			status += fmt.Sprintf("\t%d", n)
		}
		status += "\n"
	}
	var cmdline string
	if len(p.args) > 0 {
		cmdline = strings.Join(p.args, "\x00") + "\x00"
	}
	files := map[string]string{"stat": stat, "status": status, "cmdline": cmdline}
	if p.loginUID != "" {
		files["loginuid"] = p.loginUID
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The link targets need not exist: only readlink is used.
	for name, target := range map[string]string{"exe": p.exe, "cwd": p.cwd, "ns": p.ns} {
		if target == "" {
			continue
		}
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// writeFakeNamespaces makes dir a set of namespaces, one file per kind, and
// returns their inodes; the kinds in shared are links to from's files (the
// same namespaces).
func writeFakeNamespaces(t *testing.T, dir, from string, shared ...NamespaceKind) Namespaces {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var ns Namespaces
	for k := range NumNamespaceKinds {
		path := filepath.Join(dir, k.String())
		var err error
		if slices.Contains(shared, k) {
			err = os.Symlink(filepath.Join(from, k.String()), path)
		} else {
			err = os.WriteFile(path, nil, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		if ns[k], err = nsInode(path); err != nil {
			t.Fatal(err)
		}
	}
	return ns
}

// newTestCache returns a cache over an empty fake proc root, so that misses
// and best-effort reads never touch the real /proc.
func newTestCache(t testing.TB, clock *fakeClock, opts Options) (*Cache, string) {
	t.Helper()
	root := t.TempDir()
	opts.ProcRoot = root
	if opts.Node == "" {
		opts.Node = "node1"
	}
	if clock != nil {
		opts.Now = clock.Now
	}
	return NewCache(opts), root
}

func mustLookup(t *testing.T, c *Cache, pid uint32) Info {
	t.Helper()
	info, ok := c.Lookup(pid)
	if !ok {
		t.Fatalf("Lookup(%d): not found", pid)
	}
	return info
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
