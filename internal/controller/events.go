package controller

import (
	"errors"
	"syscall"

	"github.com/capprof/capprof/bpf"
	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
	"github.com/capprof/capprof/internal/syscalls"
	"github.com/capprof/capprof/internal/tracer"
)

// ExitSink is a Sink that also learns how each recorded process ended:
// capprof run compares a re-run's processes with the recording's.
type ExitSink interface {
	Sink
	// Exited is called from Run's goroutine, as Write is.
	Exited(Exit)
}

// Exit is the end of a recorded process (a thread group).
type Exit struct {
	Process proc.Info // as the process cache knew it
	Status  syscall.WaitStatus
}

// handle applies one ring-buffer event: process events update the process
// cache, cgroup creations the cgroup resolver's, and checks become records
// (in unique mode, only a key's first check).
func (c *Controller) handle(ev tracer.Event) {
	c.stats.events.Add(1)
	switch {
	case ev.Check != nil:
		chk := c.checkOf(ev.Check)
		if c.tracer.Mode() == tracer.Unique {
			if !c.unique.first(keyOf(ev.Check), ev.Check.TimeNs, chk) {
				return
			}
		}
		c.emit(chk)
	case ev.Exec != nil:
		e := ev.Exec
		c.procs.Exec(e.Pid, e.Ppid, tracer.CString(e.Filename[:]), tracer.Args(e), "",
			e.Uid, e.Euid, e.StartNs, e.TimeNs, taskContext(&e.Ctx))
	case ev.Fork != nil:
		c.procs.Fork(ev.Fork.ParentPid, ev.Fork.ChildPid, ev.Fork.StartNs, taskContext(&ev.Fork.Ctx))
	case ev.Exit != nil:
		if c.exits != nil {
			info, _ := c.procs.Lookup(ev.Exit.Pid)
			info.PID = ev.Exit.Pid
			c.exits.Exited(Exit{Process: info, Status: syscall.WaitStatus(ev.Exit.ExitCode)})
		}
		c.procs.Exit(ev.Exit.Pid, ev.Exit.TimeNs)
	case ev.Cgroup != nil:
		// The kernel reports a cgroup's creation before anything runs in
		// it, so its checks, read later from the same ring buffer, find
		// the path even if the cgroup is gone by then.
		if p := tracer.CString(ev.Cgroup.Path[:]); p != "" {
			c.cgroups.Remember(ev.Cgroup.CgroupId, p)
			if c.selector != nil {
				c.selector.sel.CgroupCreated(ev.Cgroup.CgroupId, p)
			}
		}
	}
}

// checkOf attributes a check event to its process and container.
func (c *Controller) checkOf(e *bpf.CapprofCheckEvent) check.Check {
	chk := check.Check{
		Time:        c.procs.WallTime(e.TimeNs),
		Cap:         int(e.Cap),
		Denied:      e.Denied != 0,
		Audit:       check.Audit(e.Audit),
		ForeignCred: e.ForeignCred != 0,
		Effective:   caps.Set(e.Effective),
		UID:         e.Uid,
		EUID:        e.Euid,
		Count:       1,
		UserNS: check.UserNamespace{
			Level:    e.NsLevel,
			Inode:    e.NsInum,
			OwnerUID: e.NsOwnerUid,
			OwnerGID: e.NsOwnerGid,
			IsHost:   e.NsIsHost != 0,
		},
		PID:      e.Pid,
		TID:      e.Tid,
		HostName: c.cfg.HostName,
	}
	c.setSyscall(&chk, e.Syscall)
	chk.Process, _ = c.procs.Lookup(e.Pid)
	c.setCgroup(&chk, e.CgroupId)
	chk.RuntimeSetup = chk.Container.ID != "" && isRuntimeSetup(tracer.Comm(e), e.MntNsIsHost != 0)
	return chk
}

func (c *Controller) setSyscall(chk *check.Check, nr int32) {
	chk.Syscall = int(nr)
	chk.SyscallName = syscalls.Name(syscalls.Native(), int(nr))
}

// setCgroup resolves the cgroup id. A cgroup removed before we looked (a
// short-lived container) resolves only if its creation was reported
// (cgroup_mkdir); else the path and container stay empty.
func (c *Controller) setCgroup(chk *check.Check, id uint64) {
	chk.CgroupID = id
	ctr, path, err := c.cgroups.Container(id)
	if err != nil && !errors.Is(err, cgroup.ErrNotFound) {
		c.log.Debug("resolve cgroup", "id", id, "error", err)
	}
	chk.Container = ctr
	chk.CgroupPath = path
}

// taskContext converts the kernel's view of a process's context; the
// namespace kinds are in the same order (TestNamespaceKindsMatchTheProgram).
func taskContext(ctx *bpf.CapprofTaskContext) proc.TaskContext {
	return proc.TaskContext{Namespaces: proc.Namespaces(ctx.Ns), LoginUID: ctx.Loginuid, VPID: ctx.Vpid}
}

func keyOf(e *bpf.CapprofCheckEvent) bpf.CapprofDedupKey {
	return bpf.CapprofDedupKey{
		CgroupId: e.CgroupId,
		ExeIno:   e.ExeIno,
		ExeDev:   e.ExeDev,
		Syscall:  e.Syscall,
		NsLevel:  e.NsLevel,
		Cap:      e.Cap,
		Denied:   e.Denied,
		Audit:    e.KeyAudit,
	}
}
