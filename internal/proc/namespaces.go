package proc

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// NamespaceKind is one of a process's namespaces, in the order of the
// eBPF program's enum ns_kind (a controller test holds them equal).
type NamespaceKind uint8

const (
	NSUTS NamespaceKind = iota
	NSIPC
	NSMnt
	NSPID
	NSPIDForChildren
	NSNet
	NSTime
	NSTimeForChildren
	NSCgroup
	NSUser
	NumNamespaceKinds
)

var namespaceNames = [NumNamespaceKinds]string{
	"uts", "ipc", "mnt", "pid", "pid_for_children", "net", "time", "time_for_children", "cgroup", "user",
}

// String is the namespace's file name under /proc/PID/ns/ ("pid_for_children").
func (k NamespaceKind) String() string {
	if k >= NumNamespaceKinds {
		return "ns" + strconv.Itoa(int(k))
	}
	return namespaceNames[k]
}

// Namespaces are the inode numbers of a process's namespaces, as
// /proc/PID/ns/ shows them, indexed by NamespaceKind; 0 where unknown (a
// kernel without time namespaces, a process gone before it was read).
type Namespaces [NumNamespaceKinds]uint32

// NamespaceSet is a set of namespace kinds: bit k is NamespaceKind k.
type NamespaceSet uint16

// Has reports whether k is in the set.
func (s NamespaceSet) Has(k NamespaceKind) bool { return s&(1<<k) != 0 }

// hostOf returns the kinds whose namespace is known and is host's.
func (ns *Namespaces) hostOf(host *Namespaces) NamespaceSet {
	var s NamespaceSet
	for k := range ns {
		if ns[k] != 0 && ns[k] == host[k] {
			s |= 1 << k
		}
	}
	return s
}

// readNamespaces reads the namespaces of pid: a link each, whose inode
// stat gives. The time links came in Linux 5.6; a link that cannot be read
// stays 0.
func readNamespaces(root string, pid string) Namespaces {
	var ns Namespaces
	dir := filepath.Join(root, pid, "ns")
	for k := range ns {
		ns[k], _ = nsInode(filepath.Join(dir, namespaceNames[k]))
	}
	return ns
}

func nsInode(path string) (uint32, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return uint32(st.Ino), nil
}

// HostNamespaces returns the host's namespaces: pid 1's; where pid 1 may
// not be inspected (a sandbox's init), kthreadd's (pid 2 in the host's pid
// namespace), which are the kernel's initial ones; else our own stand in.
// It fails only when not even our own mount namespace can be read.
func HostNamespaces(procRoot string, log *slog.Logger) (Namespaces, error) {
	if procRoot == "" {
		procRoot = defaultProcRoot
	}
	_, err := nsInode(filepath.Join(procRoot, "1", "ns", "mnt"))
	if err == nil {
		return readNamespaces(procRoot, "1"), nil
	}
	if comm, cerr := os.ReadFile(filepath.Join(procRoot, "2", "comm")); cerr == nil && string(comm) == "kthreadd\n" {
		if _, kerr := nsInode(filepath.Join(procRoot, "2", "ns", "mnt")); kerr == nil {
			log.Debug("pid 1's namespaces are unreadable; using kthreadd's as the host's", "error", err)
			return readNamespaces(procRoot, "2"), nil
		}
	}
	log.Debug("pid 1's and kthreadd's namespaces are unreadable; using ours as the host's", "error", err)
	if _, err = nsInode(filepath.Join(procRoot, "self", "ns", "mnt")); err != nil {
		return Namespaces{}, fmt.Errorf("read host mount namespace: %w", err)
	}
	return readNamespaces(procRoot, "self"), nil
}
