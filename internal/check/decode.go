package check

import (
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/cgroup"
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
}

// DecodeResource decodes the resource attributes (as Resource makes them,
// read back from OTLP) of capability-check records. Values are the plain
// Go values of decoded OTLP; missing attributes leave their fields zero.
func DecodeResource(resource map[string]any) ResourceFields {
	str := func(k string) string { s, _ := resource[k].(string); return s }
	return ResourceFields{
		HostName: str(AttrHostName),
		Container: cgroup.Container{
			ID:      str(AttrContainerID),
			Runtime: str(AttrContainerRuntime),
			PodUID:  str(AttrPodUID),
		},
		Kubernetes: kubernetesFrom(resource),
	}
}

// FromAttributes rebuilds a check from its record and resource attributes
// (as Attributes and Resource make them, read back from OTLP). Values are
// the plain Go values of decoded OTLP: string, int64, bool, []any. Missing
// attributes leave their fields zero; an absent audit flag is AuditUnknown.
func FromAttributes(record, resource map[string]any, at time.Time) Check {
	return FromRecord(record, DecodeResource(resource), at)
}

// FromRecord rebuilds a check from its record attributes and its already
// decoded resource, as FromAttributes does.
func FromRecord(record map[string]any, res ResourceFields, at time.Time) Check {
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	num := func(k string) int64 { n, _ := record[k].(int64); return n }
	flag := func(k string) bool { b, _ := record[k].(bool); return b }
	c := Check{
		Time:        at,
		Cap:         int(num(AttrCapID)),
		Denied:      str(record, AttrVerdict) == "denied",
		ForeignCred: flag(AttrForeignCred),
		UID:         uint32(num(AttrRealUserID)),
		EUID:        uint32(num(AttrUserID)),
		Count:       uint64(num(AttrCount)),
		UserNS: UserNamespace{
			Level:    uint32(num(AttrNSLevel)),
			Inode:    uint32(num(AttrNSInode)),
			OwnerUID: uint32(num(AttrNSOwnerUID)),
			OwnerGID: uint32(num(AttrNSOwnerGID)),
			IsHost:   flag(AttrNSIsHost),
		},
		Syscall:     -1,
		SyscallName: str(record, AttrSyscallName),
		PID:         uint32(num(AttrPID)),
		TID:         uint32(num(AttrTID)),
		CgroupID:    uint64(num(AttrCgroupID)),
		CgroupPath:  str(record, AttrCgroupPath),
		HostName:    res.HostName,
		Container:   res.Container,
		Kubernetes:  res.Kubernetes,
	}
	if _, ok := record[AttrCapID]; !ok {
		c.Cap, _ = caps.Parse(str(record, AttrCapName))
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
	if names, ok := record[AttrEffective].([]any); ok {
		for _, n := range names {
			if s, ok := n.(string); ok {
				if id, err := caps.Parse(s); err == nil {
					c.Effective = c.Effective.With(id)
				}
			}
		}
	}
	p := &c.Process
	p.PID = c.PID
	p.PPID = uint32(num(AttrParentPID))
	p.ExecutablePath = str(record, AttrExePath)
	p.WorkingDirectory = str(record, AttrWorkingDir)
	p.ExecID = str(record, AttrExecID)
	p.ParentExecID = str(record, AttrParentExecID)
	p.ParentExecutablePath = str(record, AttrParentExePath)
	p.UID, p.EUID = c.UID, c.EUID
	if args, ok := record[AttrCommandArgs].([]any); ok {
		for _, a := range args {
			s, _ := a.(string)
			p.Args = append(p.Args, s)
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, str(record, AttrCreationTime)); err == nil {
		p.StartTime = t
	}
	c.RuntimeSetup = flag(AttrRuntimeSetup)
	return c
}
