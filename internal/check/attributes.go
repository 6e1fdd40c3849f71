package check

import (
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/proc"
)

// Attribute names. Keep them: users filter and aggregate on them.
const (
	AttrHostName         = "host.name"
	AttrContainerID      = "container.id"
	AttrContainerRuntime = "container.runtime.name"
	AttrPodUID           = "k8s.pod.uid"

	AttrCapName       = "linux.capability.name"
	AttrCapID         = "linux.capability.id"
	AttrVerdict       = "linux.capability.verdict"
	AttrAudit         = "linux.capability.audit"
	AttrForeignCred   = "linux.capability.foreign_cred"
	AttrEffective     = "linux.capability.effective"
	AttrCount         = "linux.capability.count"
	AttrNSLevel       = "linux.user_namespace.level"
	AttrNSInode       = "linux.user_namespace.inode"
	AttrNSOwnerUID    = "linux.user_namespace.owner_uid"
	AttrNSOwnerGID    = "linux.user_namespace.owner_gid"
	AttrNSIsHost      = "linux.user_namespace.is_host"
	AttrSyscallName   = "linux.syscall.name"
	AttrSyscallID     = "linux.syscall.id"
	AttrPID           = "process.pid"
	AttrTID           = "thread.id"
	AttrParentPID     = "process.parent_pid"
	AttrExePath       = "process.executable.path"
	AttrExeName       = "process.executable.name"
	AttrCommandArgs   = "process.command_args"
	AttrWorkingDir    = "process.working_directory"
	AttrUserID        = "process.user.id"
	AttrRealUserID    = "process.real_user.id"
	AttrCreationTime  = "process.creation.time"
	AttrExecID        = "process.exec_id"
	AttrParentExecID  = "process.parent.exec_id"
	AttrParentExePath = "process.parent.executable.path"
	AttrCgroupPath    = "linux.cgroup.path"
	AttrCgroupID      = "linux.cgroup.id"

	AttrVPID          = "process.vpid"
	AttrLoginUID      = "process.login_user.id"
	AttrProcessFlags  = "capprof.process.flags"
	AttrParentUserID  = "process.parent.user.id"
	AttrParentRealUID = "process.parent.real_user.id"
	AttrParentLogin   = "process.parent.login_user.id"
	AttrParentWorkDir = "process.parent.working_directory"
	AttrParentArgs    = "process.parent.command_args"
	AttrParentCreated = "process.parent.creation.time"
	AttrParentFlags   = "capprof.process.parent.flags"
	AttrContainerTime = "container.start_time"
	// The namespaces are linux.namespace.<kind>.inode and .is_host, kind as
	// /proc/PID/ns/ names it (NamespaceInodeKey, NamespaceIsHostKey).
	attrNamespacePrefix = "linux.namespace."
)

// namespaceKeys are the two attribute names of each namespace kind, made
// once: resources are encoded often.
var namespaceKeys = func() (keys [proc.NumNamespaceKinds][2]string) {
	for k := range proc.NumNamespaceKinds {
		keys[k] = [2]string{attrNamespacePrefix + k.String() + ".inode", attrNamespacePrefix + k.String() + ".is_host"}
	}
	return keys
}()

// NamespaceInodeKey is the attribute name of a namespace's inode number
// ("linux.namespace.pid.inode").
func NamespaceInodeKey(k proc.NamespaceKind) string { return namespaceKeys[k][0] }

// NamespaceIsHostKey is the attribute name saying whether a namespace is
// the host's ("linux.namespace.pid.is_host").
func NamespaceIsHostKey(k proc.NamespaceKind) string { return namespaceKeys[k][1] }

// Kind is the type of an attribute value.
type Kind uint8

const (
	KindString Kind = iota
	KindInt
	KindBool
	KindStrings
)

// Attr is one attribute; only the field its Kind names is set.
type Attr struct {
	Key     string
	Kind    Kind
	Str     string
	Int     int64
	Bool    bool
	Strings []string
}

func str(k, v string) Attr           { return Attr{Key: k, Kind: KindString, Str: v} }
func integer(k string, v int64) Attr { return Attr{Key: k, Kind: KindInt, Int: v} }
func boolean(k string, v bool) Attr  { return Attr{Key: k, Kind: KindBool, Bool: v} }
func strs(k string, v []string) Attr { return Attr{Key: k, Kind: KindStrings, Strings: v} }

// Value returns the attribute's value as a plain Go value (string, int64,
// bool or []string), for encoders that take any.
func (a Attr) Value() any {
	switch a.Kind {
	case KindInt:
		return a.Int
	case KindBool:
		return a.Bool
	case KindStrings:
		return a.Strings
	default:
		return a.Str
	}
}

// Resource returns the resource attributes: what the check's records share
// with every other check of the same process (container, pod, host and the
// process itself, as the semantic conventions count process.* among
// resource attributes).
func (c *Check) Resource() []Attr { return c.AppendResource(make([]Attr, 0, 64)) }

// AppendResource appends the resource attributes to attrs: encoders that map
// many checks reuse one slice.
func (c *Check) AppendResource(attrs []Attr) []Attr {
	if c.HostName != "" {
		attrs = append(attrs, str(AttrHostName, c.HostName))
	}
	if c.Container.ID != "" {
		attrs = append(attrs, str(AttrContainerID, c.Container.ID))
	}
	if c.Container.Runtime != "" {
		attrs = append(attrs, str(AttrContainerRuntime, c.Container.Runtime))
	}
	// The API server's pod UID wins: a static pod's cgroup is named after a
	// hash of its manifest, not after its mirror pod's UID.
	switch {
	case c.Kubernetes != nil && c.Kubernetes.PodUID != "":
		attrs = append(attrs, str(AttrPodUID, c.Kubernetes.PodUID))
	case c.Container.PodUID != "":
		attrs = append(attrs, str(AttrPodUID, c.Container.PodUID))
	}
	if c.Kubernetes != nil {
		attrs = c.Kubernetes.appendTo(attrs)
	}
	return c.appendUserNamespace(c.appendProcess(attrs))
}

// appendUserNamespace appends the user namespace the capability was checked
// in. It belongs to the check, but a process checks almost always in one
// namespace (its own, or the host's), so it is carried with the process on
// the resource, part of the ResourceKey, and a record carries only what
// its one check says; see docs/attributes.md.
func (c *Check) appendUserNamespace(attrs []Attr) []Attr {
	return append(attrs,
		integer(AttrNSLevel, int64(c.UserNS.Level)),
		integer(AttrNSInode, int64(c.UserNS.Inode)),
		integer(AttrNSOwnerUID, int64(c.UserNS.OwnerUID)),
		integer(AttrNSOwnerGID, int64(c.UserNS.OwnerGID)),
		boolean(AttrNSIsHost, c.UserNS.IsHost),
	)
}

// appendProcess appends the attributes of the checking process: its
// identity, the credentials it checked with (uids and effective set) and
// its cgroup. They are the
// same for all of a process's checks until it execs, changes credentials
// or moves, and each of those makes a new ResourceKey.
func (c *Check) appendProcess(attrs []Attr) []Attr {
	attrs = append(attrs,
		integer(AttrPID, int64(c.PID)),
		integer(AttrUserID, int64(c.EUID)),
		integer(AttrRealUserID, int64(c.UID)),
		strs(AttrEffective, c.Effective.Names()),
		integer(AttrCgroupID, int64(c.CgroupID)),
	)
	if c.CgroupPath != "" {
		attrs = append(attrs, str(AttrCgroupPath, c.CgroupPath))
	}
	p := &c.Process
	if p.PPID != 0 {
		attrs = append(attrs, integer(AttrParentPID, int64(p.PPID)))
	}
	if p.ExecutablePath != "" {
		attrs = append(attrs, str(AttrExePath, p.ExecutablePath), str(AttrExeName, baseName(p.ExecutablePath)))
	}
	if len(p.Args) > 0 {
		attrs = append(attrs, strs(AttrCommandArgs, p.Args))
	}
	if p.WorkingDirectory != "" {
		attrs = append(attrs, str(AttrWorkingDir, p.WorkingDirectory))
	}
	if !p.StartTime.IsZero() {
		attrs = append(attrs, str(AttrCreationTime, p.StartTime.UTC().Format(time.RFC3339Nano)))
	}
	if p.ExecID != "" {
		attrs = append(attrs, str(AttrExecID, p.ExecID))
	}
	if p.ParentExecID != "" {
		attrs = append(attrs, str(AttrParentExecID, p.ParentExecID))
	}
	if p.ParentExecutablePath != "" {
		attrs = append(attrs, str(AttrParentExePath, p.ParentExecutablePath))
	}
	if p.Context != nil {
		attrs = c.appendContext(attrs, p.Context)
	}
	return attrs
}

// appendContext appends what the process runs in, how the cache learned
// it and its parent's details.
func (c *Check) appendContext(attrs []Attr, x *proc.Context) []Attr {
	if x.VPID != 0 {
		attrs = append(attrs, integer(AttrVPID, int64(x.VPID)))
	}
	attrs = append(attrs, integer(AttrLoginUID, int64(x.LoginUID)), strs(AttrProcessFlags, x.Flags.Names()))
	for k, ino := range x.Namespaces {
		if ino != 0 {
			attrs = append(attrs, integer(namespaceKeys[k][0], int64(ino)),
				boolean(namespaceKeys[k][1], x.HostNamespaces.Has(proc.NamespaceKind(k))))
		}
	}
	if c.Container.ID != "" && !x.PIDNamespaceStart.IsZero() {
		attrs = append(attrs, str(AttrContainerTime, x.PIDNamespaceStart.UTC().Format(time.RFC3339Nano)))
	}
	// The parent's start time tells its details are known: the cache
	// always has it when it knew the parent.
	p := &x.Parent
	if p.StartTime.IsZero() {
		return attrs
	}
	attrs = append(attrs,
		integer(AttrParentUserID, int64(p.EUID)),
		integer(AttrParentRealUID, int64(p.UID)),
		integer(AttrParentLogin, int64(p.LoginUID)),
		str(AttrParentCreated, p.StartTime.UTC().Format(time.RFC3339Nano)),
		strs(AttrParentFlags, p.Flags.Names()),
	)
	if p.WorkingDirectory != "" {
		attrs = append(attrs, str(AttrParentWorkDir, p.WorkingDirectory))
	}
	if len(p.Args) > 0 {
		attrs = append(attrs, strs(AttrParentArgs, p.Args))
	}
	return attrs
}

// ResourceKey identifies the resource a check belongs to, for grouping
// records; it is comparable and costs no allocation. Checks of a container
// share one Kubernetes value until its pod changes, so the pointer tells
// the metadata versions apart. A process is its pid, its exec (ExecID
// changes at exec), the credentials and cgroup it checked with and the
// user namespace it checked in; the rest of its details (arguments,
// working directory) are the first check's of a batch.
type ResourceKey struct {
	HostName   string
	Container  cgroup.Container
	Kubernetes *Kubernetes
	PID        uint32
	UID, EUID  uint32
	Effective  caps.Set
	CgroupID   uint64
	ExecID     string
	Executable string
	UserNS     UserNamespace
}

// ResourceKey returns the key of the check's resource.
func (c *Check) ResourceKey() ResourceKey {
	return ResourceKey{
		HostName: c.HostName, Container: c.Container, Kubernetes: c.Kubernetes,
		PID: c.PID, UID: c.UID, EUID: c.EUID, Effective: c.Effective, CgroupID: c.CgroupID,
		ExecID: c.Process.ExecID, Executable: c.Process.ExecutablePath,
		UserNS: c.UserNS,
	}
}

// Attributes returns the record attributes, in a fixed order. Unknown values
// are omitted rather than zero: an absent audit flag means "unknown".
func (c *Check) Attributes() []Attr { return c.AppendAttributes(make([]Attr, 0, 16)) }

// AppendAttributes appends the record attributes to attrs: what this one
// check says beyond its process.
func (c *Check) AppendAttributes(attrs []Attr) []Attr {
	attrs = append(attrs,
		str(AttrCapName, caps.Name(c.Cap)),
		integer(AttrCapID, int64(c.Cap)),
		str(AttrVerdict, c.Verdict()),
	)
	if c.Audit != AuditUnknown {
		attrs = append(attrs, boolean(AttrAudit, c.Audit == Audited))
	}
	attrs = append(attrs,
		boolean(AttrForeignCred, c.ForeignCred),
		integer(AttrCount, int64(c.Count)),
	)
	if c.Syscall >= 0 {
		attrs = append(attrs, integer(AttrSyscallID, int64(c.Syscall)))
		if c.SyscallName != "" {
			attrs = append(attrs, str(AttrSyscallName, c.SyscallName))
		}
	}
	attrs = append(attrs, integer(AttrTID, int64(c.TID)))
	if c.RuntimeSetup {
		attrs = append(attrs, boolean(AttrRuntimeSetup, true))
	}
	return attrs
}

func baseName(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[i+1:]
		}
	}
	return path
}
