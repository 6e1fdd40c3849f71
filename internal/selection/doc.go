// Package selection keeps the kernel's live cgroup selection in step with
// what is selected: rules (a CapabilityRecording's pod selector and
// containers, or `capprof record --namespace --pod/--selector`) applied to
// the pods of this node, resolved to cgroup v2 ids as the pods and their
// cgroups come and go.
//
// The kernel's selection holds pod cgroups: the kernel matches a task
// whose cgroup's parent is selected, and every kubelet layout puts a pod's
// containers directly below its pod cgroup, so a container is recorded
// from its first check, before the pod's status names it. A rule that
// names containers selects their pods' cgroups too; Keeps then tells the
// controller, once a check's container name is known, to drop (and
// count) the checks of the pods' other containers, and of containers the
// status never names (the sandbox). Cgroups nested inside a container's
// own cgroup (a container that makes sub-cgroups of its own) are not
// matched.
//
// The selection is active (checks outside it dropped in the kernel and
// counted) while any rule exists, and with Default RecordSelected also
// while none does.
package selection
