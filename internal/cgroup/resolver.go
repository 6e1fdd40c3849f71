package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"
)

const (
	// defaultMaxEntries bounds the cache when Options.MaxEntries is 0. It
	// covers the cgroups of a busy Kubernetes node several times over.
	defaultMaxEntries = 4096

	// missTTL is how long an id that a walk did not find is reported as
	// missing without walking again.
	missTTL = time.Second
)

// Options configures a Resolver. MaxEntries bounds both the id → path cache
// and the record of ids recently found missing.
type Options struct {
	Root       string // cgroup2 mount point; "" = find it in /proc/self/mountinfo
	MaxEntries int    // cache bound; 0 = 4096
}

// Resolver maps cgroup ids to paths and containers, with a bounded cache.
// It is safe for concurrent use.
type Resolver struct {
	root string
	// dev is the device of root; directories on other devices are mounts
	// inside the tree, whose inode numbers are not cgroup ids.
	dev uint64
	now func() time.Time

	// walkMu serialises walks: goroutines that miss on the same id while a
	// walk runs find its result in the cache instead of walking again.
	walkMu sync.Mutex
	walks  int // guarded by walkMu; lets tests count walks

	mu     sync.Mutex // guards paths and misses
	paths  *pathCache
	misses *missCache
}

// NewResolver returns a Resolver for the cgroup2 tree at opts.Root, or at
// the cgroup2 mount listed in /proc/self/mountinfo when Root is empty. It
// fails with ErrNoCgroup2Mount when there is none.
func NewResolver(opts Options) (*Resolver, error) {
	if opts.MaxEntries < 0 {
		return nil, fmt.Errorf("max entries %d is negative", opts.MaxEntries)
	}
	limit := opts.MaxEntries
	if limit == 0 {
		limit = defaultMaxEntries
	}

	root := opts.Root
	if root == "" {
		var err error
		if root, err = findCgroup2Mount(mountInfoPath); err != nil {
			return nil, err
		}
	}
	// The walk does not follow symlinks, so a symlinked root would look
	// empty; resolve it once here instead.
	root, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("resolve cgroup root: %w", err)
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolve cgroup root: %w", err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("stat cgroup root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("cgroup root %s is not a directory", root)
	}
	dev, _, ok := statIDs(fi)
	if !ok {
		return nil, fmt.Errorf("cgroup root %s: inode numbers are not available on this platform", root)
	}

	return &Resolver{
		root:   root,
		dev:    dev,
		now:    time.Now,
		paths:  newPathCache(limit),
		misses: newMissCache(missTTL, limit),
	}, nil
}

// Root returns the directory the Resolver resolves against: the cgroup2
// mount point, with symlinks resolved.
func (r *Resolver) Root() string { return r.root }

// Path returns the path of cgroup id relative to Root ("/kubepods/..."). On
// a cache miss it walks the cgroup2 tree for a directory whose inode is id,
// caching every directory it passes. It returns an error wrapping
// ErrNotFound when no directory has that inode, which usually means the
// cgroup was already removed; further lookups of that id within a second
// fail the same way without walking again.
func (r *Resolver) Path(id uint64) (string, error) {
	if p, found, missing := r.lookup(id); found {
		return p, nil
	} else if missing {
		return "", notFound(id)
	}

	r.walkMu.Lock()
	defer r.walkMu.Unlock()
	// The walk we waited for may have settled this id already.
	if p, found, missing := r.lookup(id); found {
		return p, nil
	} else if missing {
		return "", notFound(id)
	}
	return r.walk(id)
}

// Container returns ParsePath(Path(id)) and the path. When the path cannot
// be resolved it returns the zero Container and Path's error.
func (r *Resolver) Container(id uint64) (Container, string, error) {
	p, err := r.Path(id)
	if err != nil {
		return Container{}, "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.paths.get(id)
	if !ok || e.path != p {
		// Evicted or replaced since Path returned; not worth caching.
		return ParsePath(p), p, nil
	}
	if !e.parsed {
		e.container, e.parsed = ParsePath(p), true
	}
	return e.container, p, nil
}

// ID returns the cgroup id (inode) of a path relative to Root, e.g. to
// configure a subtree filter, and remembers it for Path. A path that does
// not exist gives an error wrapping ErrNotFound.
func (r *Resolver) ID(cgroupPath string) (uint64, error) {
	rel := cleanPath(cgroupPath)
	fi, err := os.Lstat(filepath.Join(r.root, filepath.FromSlash(rel)))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("cgroup %s: %w", rel, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("stat cgroup %s: %w", rel, err)
	}
	if !fi.IsDir() {
		return 0, fmt.Errorf("cgroup %s is not a directory", rel)
	}
	dev, ino, ok := statIDs(fi)
	if !ok {
		return 0, fmt.Errorf("cgroup %s: inode number not available", rel)
	}
	if dev != r.dev {
		return 0, fmt.Errorf("cgroup %s is on a different file system than %s", rel, r.root)
	}
	r.Remember(ino, rel)
	return ino, nil
}

// Remember lets a caller seed the cache (for example from /proc/PID/cgroup
// of a process it already knows, or a cgroup it just created). It also
// cancels a recent not-found result for id.
func (r *Resolver) Remember(id uint64, cgroupPath string) {
	if id == 0 {
		// No directory has inode 0; it is what a caller's failed lookup
		// looks like, and caching it would only shadow real results.
		return
	}
	rel := cleanPath(cgroupPath)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.paths.add(id, rel)
	r.misses.forget(id)
}

// lookup reports the cached path of id, or whether id was recently found
// to be missing.
func (r *Resolver) lookup(id uint64) (p string, found, missing bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.paths.get(id); ok {
		return e.path, true, false
	}
	return "", false, r.misses.recent(id, r.now())
}

// cleanPath makes a cgroup path absolute with respect to the cgroup root and
// removes "." and "..", so it cannot name anything outside the root.
func cleanPath(p string) string {
	return path.Clean("/" + p)
}

func notFound(id uint64) error {
	return fmt.Errorf("cgroup id %d: %w", id, ErrNotFound)
}
