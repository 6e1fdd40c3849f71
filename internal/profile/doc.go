// Package profile turns recorded capability checks into capability profiles
// and securityContext advice: for each workload (a Kubernetes workload's
// container, a container image, a container, a host executable, or the
// command of `capprof run`), which capabilities it needed, which it was
// denied, which it holds but never used, and what its securityContext
// should add and drop.
//
// It is pure Go: no kernel, no Collector. The `capability_profile` connector,
// `capprof profile` and `capprof run` all feed one [Builder] with
// [Observation]s (a [check.Check] plus its OTLP resource attributes) and
// print [Profile]s with [Write].
//
// # Rules
//
// Every check falls into exactly one class, decided by these rules in
// order (rules.go, one function each; docs/profiles.md has the reasons):
//
//  1. runtime setup: made by the container runtime while it set the
//     container up (runc init, before the entrypoint's exec); ignored.
//  2. foreign credentials: the checked credentials were not the caller's
//     own (a file opener's, a ptrace target's); ignored.
//  3. not audited: a CAP_OPT_NOAUDIT probe (the memory-commit
//     CAP_SYS_ADMIN checks and friends); ignored.
//  4. namespaced: against a user namespace below the initial one that the
//     checking credentials' uid owns, i.e. one the workload made; the
//     capability is not needed in the securityContext.
//  5. own: everything else. A granted own check makes the capability
//     needed; a capability with denied own checks and no granted one is
//     "attempted and denied", listed for a person to decide and never added.
//
// A check whose audit flag is unknown counts as audited; the evidence says
// how many such checks there were.
//
// # Advice
//
// drop: [ALL], add: the needed capabilities (Kubernetes names, sorted); the
// Pod Security Standards level whose capability controls the advice
// satisfies; the capabilities held (the union of the effective sets seen on
// the workload's own checks) but never needed; and, when the declared
// securityContext is known, what to add to and drop from it.
//
// Profiles are bounded (WithMaxProfiles, the least recently updated evicted
// and counted) and so is each list of names in them. The JSON output holds a
// profile's whole state: ReadJSON and Builder.Restore carry profiles over a
// restart.
//
// docs/profiles.md describes the rules, the key, the formats and the JSON
// schema.
//
// A Builder is not safe for concurrent use; callers that share one lock
// around it.
package profile
