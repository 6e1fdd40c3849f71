package check

import (
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/proc"
)

// ResourceFields are the fields of a check that its resource attributes
// carry. A resource holds many records, so a reader decodes it once with
// DecodeResource and applies it to each record with FromRecord.
type ResourceFields struct {
	HostName  string
	Container cgroup.Container
	// Kubernetes is shared, read only, by every check decoded with these
	// fields, as the controller shares a pod's metadata between its checks.
	Kubernetes *Kubernetes
	// process holds the process fields of a check (PID, credentials,
	// cgroup, Process): resource attributes since the process moved to the
	// resource, record attributes before.
	process Check
}

// DecodeResource decodes the resource attributes (as Resource makes them,
// read back from OTLP) of capability-check records. Values are the plain
// Go values of decoded OTLP; missing attributes leave their fields zero.
func DecodeResource(resource map[string]any) ResourceFields {
	str := func(k string) string { s, _ := resource[k].(string); return s }
	res := ResourceFields{
		HostName: str(AttrHostName),
		Container: cgroup.Container{
			ID:      str(AttrContainerID),
			Runtime: str(AttrContainerRuntime),
			PodUID:  str(AttrPodUID),
		},
		Kubernetes: kubernetesFrom(resource),
	}
	decodeProcess(resource, &res.process)
	decodeUserNamespace(resource, &res.process.UserNS)
	return res
}

// FromAttributes rebuilds a check from its record and resource attributes
// (as Attributes and Resource make them, read back from OTLP). Values are
// the plain Go values of decoded OTLP: string, int64, bool, []any. Missing
// attributes leave their fields zero; an absent audit flag is AuditUnknown.
func FromAttributes(record, resource map[string]any, at time.Time) Check {
	return FromRecord(record, DecodeResource(resource), at)
}

// FromRecord rebuilds a check from its record attributes and its already
// decoded resource, as FromAttributes does. A process or user namespace
// attribute on the record (as capprof wrote them before they moved to the
// resource) wins over the resource's.
func FromRecord(record map[string]any, res ResourceFields, at time.Time) Check {
	str := func(k string) string { s, _ := record[k].(string); return s }
	num := func(k string) int64 { n, _ := record[k].(int64); return n }
	flag := func(k string) bool { b, _ := record[k].(bool); return b }
	c := res.process
	c.Time = at
	c.Cap = int(num(AttrCapID))
	c.Denied = str(AttrVerdict) == "denied"
	c.ForeignCred = flag(AttrForeignCred)
	c.Count = uint64(num(AttrCount))
	decodeUserNamespace(record, &c.UserNS)
	c.Syscall = -1
	c.SyscallName = str(AttrSyscallName)
	c.TID = uint32(num(AttrTID))
	c.HostName = res.HostName
	c.Container = res.Container
	c.Kubernetes = res.Kubernetes
	// Records of the earlier shape carried their process, process.pid
	// always among it; today's carry none, and skip the lookups.
	if _, ok := record[AttrPID]; ok {
		decodeProcess(record, &c)
	}
	if _, ok := record[AttrCapID]; !ok {
		c.Cap, _ = caps.Parse(str(AttrCapName))
	}
	if c.Count == 0 {
		c.Count = 1
	}
	if v, ok := record[AttrAudit].(bool); ok {
		c.Audit = NotAudited
		if v {
			c.Audit = Audited
		}
	}
	if nr, ok := record[AttrSyscallID].(int64); ok {
		c.Syscall = int(nr)
	}
	c.RuntimeSetup = flag(AttrRuntimeSetup)
	return c
}

// decodeProcess sets the process fields of c (pid, credentials, cgroup and
// Process) that m carries, leaving the others as they are: it decodes a
// resource, then the record over it.
func decodeProcess(m map[string]any, c *Check) {
	str := func(k string, dst *string) {
		if s, ok := m[k].(string); ok {
			*dst = s
		}
	}
	u32 := func(k string, dst *uint32) {
		if n, ok := m[k].(int64); ok {
			*dst = uint32(n)
		}
	}
	u32(AttrPID, &c.PID)
	u32(AttrRealUserID, &c.UID)
	u32(AttrUserID, &c.EUID)
	if n, ok := m[AttrCgroupID].(int64); ok {
		c.CgroupID = uint64(n)
	}
	str(AttrCgroupPath, &c.CgroupPath)
	if names, ok := m[AttrEffective].([]any); ok {
		c.Effective = 0
		for _, n := range names {
			if s, ok := n.(string); ok {
				if id, err := caps.Parse(s); err == nil {
					c.Effective = c.Effective.With(id)
				}
			}
		}
	}
	p := &c.Process
	p.PID, p.UID, p.EUID = c.PID, c.UID, c.EUID
	u32(AttrParentPID, &p.PPID)
	str(AttrExePath, &p.ExecutablePath)
	str(AttrWorkingDir, &p.WorkingDirectory)
	str(AttrExecID, &p.ExecID)
	str(AttrParentExecID, &p.ParentExecID)
	str(AttrParentExePath, &p.ParentExecutablePath)
	strList(m, AttrCommandArgs, &p.Args)
	timestamp(m, AttrCreationTime, &p.StartTime)
	decodeContext(m, p)
}

// decodeUserNamespace sets the fields of ns that m carries, leaving the
// others as they are: it decodes a resource, then the record over it.
func decodeUserNamespace(m map[string]any, ns *UserNamespace) {
	u32 := func(k string, dst *uint32) {
		if n, ok := m[k].(int64); ok {
			*dst = uint32(n)
		}
	}
	u32(AttrNSLevel, &ns.Level)
	u32(AttrNSInode, &ns.Inode)
	u32(AttrNSOwnerUID, &ns.OwnerUID)
	u32(AttrNSOwnerGID, &ns.OwnerGID)
	if host, ok := m[AttrNSIsHost].(bool); ok {
		ns.IsHost = host
	}
}

// decodeContext sets the Context of p from what m carries, over the one p
// has: a new value, as a Context may be shared.
func decodeContext(m map[string]any, p *proc.Info) {
	var x proc.Context
	if p.Context != nil {
		x = *p.Context
	}
	found := false
	u32 := func(k string, dst *uint32) {
		if n, ok := m[k].(int64); ok {
			*dst, found = uint32(n), true
		}
	}
	u32(AttrVPID, &x.VPID)
	u32(AttrLoginUID, &x.LoginUID)
	found = flags(m, AttrProcessFlags, &x.Flags) || found
	for k := range x.Namespaces {
		u32(namespaceKeys[k][0], &x.Namespaces[k])
		if host, ok := m[namespaceKeys[k][1]].(bool); ok {
			x.HostNamespaces &^= 1 << k
			if host {
				x.HostNamespaces |= 1 << k
			}
		}
	}
	found = timestamp(m, AttrContainerTime, &x.PIDNamespaceStart) || found
	par := &x.Parent
	u32(AttrParentUserID, &par.EUID)
	u32(AttrParentRealUID, &par.UID)
	u32(AttrParentLogin, &par.LoginUID)
	if s, ok := m[AttrParentWorkDir].(string); ok {
		par.WorkingDirectory, found = s, true
	}
	found = strList(m, AttrParentArgs, &par.Args) || found
	found = timestamp(m, AttrParentCreated, &par.StartTime) || found
	found = flags(m, AttrParentFlags, &par.Flags) || found
	if found {
		p.Context = &x
	}
}

// strList sets dst to the string list at m[k], when there is one.
func strList(m map[string]any, k string, dst *[]string) bool {
	list, ok := m[k].([]any)
	if !ok {
		return false
	}
	*dst = make([]string, 0, len(list))
	for _, a := range list {
		s, _ := a.(string)
		*dst = append(*dst, s)
	}
	return true
}

// timestamp sets dst to the RFC 3339 time at m[k], when there is one.
func timestamp(m map[string]any, k string, dst *time.Time) bool {
	s, ok := m[k].(string)
	if !ok {
		return false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return false
	}
	*dst = t
	return true
}

// flags sets dst to the flags named at m[k], when there is such a list.
func flags(m map[string]any, k string, dst *proc.Flags) bool {
	names, ok := m[k].([]any)
	if !ok {
		return false
	}
	*dst = 0
	for _, n := range names {
		s, _ := n.(string)
		*dst |= proc.ParseFlag(s)
	}
	return true
}
