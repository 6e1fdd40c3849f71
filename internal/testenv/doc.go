// Package testenv gives integration tests the real things they need: root,
// a cgroup of their own, and a private containerd running busybox
// containers with Kubernetes-shaped cgroups. Outside CI a missing
// prerequisite skips the test with a message naming it; with CI=true it
// fails the test, so a broken CI machine can never pass by skipping.
package testenv
