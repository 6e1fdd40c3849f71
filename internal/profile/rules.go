package profile

import "github.com/capprof/capprof/internal/check"

// Class is what one check says about the workload's needs. Every check is in
// exactly one class; classify applies the rules in the order of the
// constants.
type Class uint8

const (
	// ClassOwn: the workload's own check against the initial user namespace
	// (or the container's own, runtime-made one). Granted: the capability is
	// needed. Denied only: attempted and denied.
	ClassOwn Class = iota
	// ClassNamespaced: against a user namespace the workload made itself;
	// the creator holds every capability there, whatever the
	// securityContext says, so it is not needed there.
	ClassNamespaced
	// ClassRuntimeSetup: made by the container runtime while setting the
	// container up. Ignored.
	ClassRuntimeSetup
	// ClassForeignCred: the checked credentials were not the caller's own.
	// Ignored.
	ClassForeignCred
	// ClassNotAudited: a CAP_OPT_NOAUDIT probe. Ignored.
	ClassNotAudited

	numClasses
)

// Ignored reasons, as the JSON output spells them.
const (
	ReasonRuntimeSetup = "runtime_setup"
	ReasonForeignCred  = "foreign_credentials"
	ReasonNotAudited   = "not_audited"
)

// Reason returns the ignored reason of an ignored class, "" for the others.
func (c Class) Reason() string {
	switch c {
	case ClassRuntimeSetup:
		return ReasonRuntimeSetup
	case ClassForeignCred:
		return ReasonForeignCred
	case ClassNotAudited:
		return ReasonNotAudited
	}
	return ""
}

// ignored reports whether checks of the class never count as a need.
func (c Class) ignored() bool { return c.Reason() != "" }

// reasonText is the human wording of an ignored reason.
func reasonText(reason string) string {
	switch reason {
	case ReasonRuntimeSetup:
		return "runtime setup"
	case ReasonForeignCred:
		return "foreign credentials"
	case ReasonNotAudited:
		return "not audited"
	}
	return reason
}

// classOfReason is the inverse of Class.Reason.
func classOfReason(reason string) (Class, bool) {
	for c := ClassRuntimeSetup; c < numClasses; c++ {
		if c.Reason() == reason {
			return c, true
		}
	}
	return 0, false
}

// classify applies the rules in order; the first that matches decides.
func classify(o *Observation) Class {
	switch {
	case isRuntimeSetup(o):
		return ClassRuntimeSetup
	case isForeignCred(&o.Check):
		return ClassForeignCred
	case isNotAudited(&o.Check):
		return ClassNotAudited
	case isNamespaced(&o.Check):
		return ClassNamespaced
	}
	return ClassOwn
}

// isRuntimeSetup: checks the container runtime makes while it sets the
// container up (runc init mounting, chowning, setting ids and dropping its
// own capabilities before it execs the entrypoint) are the runtime's needs,
// not the workload's: the securityContext does not apply to them yet. The
// recorder marks them (Check.RuntimeSetup); it is checked first
// because nothing else about such a check matters.
func isRuntimeSetup(o *Observation) bool { return o.Check.RuntimeSetup }

// isForeignCred: the kernel checked someone else's credentials (a file's
// opener at write time, a ptrace or signal target, ...), so the verdict says
// nothing about what this process holds or needs.
func isForeignCred(c *check.Check) bool { return c.ForeignCred }

// isNotAudited: CAP_OPT_NOAUDIT checks are probes whose failure costs
// nothing (every memory commit of a non-root process checks CAP_SYS_ADMIN in
// cap_vm_enough_memory; ns_capable_noaudit). Denied, they are noise; granted,
// they would only add capabilities the program works without. An unknown
// audit flag is not enough to ignore a check: it counts as audited.
func isNotAudited(c *check.Check) bool { return c.Audit == check.NotAudited }

// isNamespaced: a check against a user namespace below the initial one that
// the checking credentials own (the namespace's owner uid is the caller's
// effective or real uid, both as kernel uids): the workload created it
// (unshare -U, a rootless build, a sandbox), and its creator holds a full
// capability set there whatever its securityContext grants, so the
// capability need not be added.
//
// A namespace below the initial one owned by another uid is the container's
// own user namespace, made by the runtime (Kubernetes hostUsers: false): the
// securityContext's capabilities are the ones the container holds there, so
// such a check is the workload's own, like one against the initial namespace.
// A check whose namespace is unknown (level 0, not flagged as the host's)
// is the workload's own too.
func isNamespaced(c *check.Check) bool {
	ns := &c.UserNS
	if ns.IsHost || ns.Level == 0 {
		return false
	}
	return ns.OwnerUID == c.EUID || ns.OwnerUID == c.UID
}
