package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// walk looks for the directory whose inode is id, caching every directory
// it passes: one walk pays for the lookups of all cgroups that exist now,
// which matters when many containers start at once. The caller holds
// walkMu.
//
// Unreadable or vanishing subtrees are skipped rather than failing the
// walk, since cgroups come and go while it runs; if id is not found, such
// an error is reported alongside ErrNotFound.
func (r *Resolver) walk(id uint64) (string, error) {
	r.walks++
	var (
		found   string
		ok      bool
		skipErr error
	)
	note := func(err error) {
		if skipErr == nil && !errors.Is(err, fs.ErrNotExist) {
			skipErr = err
		}
	}
	err := filepath.WalkDir(r.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == r.root {
				return err
			}
			note(err)
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			note(err)
			return fs.SkipDir
		}
		dev, ino, statOK := statIDs(fi)
		if !statOK || dev != r.dev {
			return fs.SkipDir
		}
		rel := r.relative(p)
		r.mu.Lock()
		r.paths.add(ino, rel)
		r.mu.Unlock()
		if ino == id {
			found, ok = rel, true
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("walk cgroup tree %s: %w", r.root, err)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok {
		r.misses.add(id, r.now())
		if skipErr != nil {
			return "", fmt.Errorf("cgroup id %d: %w (parts of the tree were unreadable: %w)", id, ErrNotFound, skipErr)
		}
		return "", notFound(id)
	}
	// Touch the result again: in a tree larger than the cache the rest of
	// the walk may have pushed it towards eviction.
	r.paths.add(id, found)
	return found, nil
}

// relative turns a path under root into a cgroup path ("/" for root itself).
func (r *Resolver) relative(p string) string {
	rel := filepath.ToSlash(strings.TrimPrefix(p, r.root))
	if !strings.HasPrefix(rel, "/") {
		rel = "/" + rel
	}
	return rel
}
