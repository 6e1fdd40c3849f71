// Package testenv gives integration tests the real things they need: a
// cgroup of their own, and a private containerd running busybox containers
// with Kubernetes-shaped cgroups. Missing prerequisites are reported through
// package prereq (skip outside CI, fail with CI=true).
package testenv
