// Package testenv gives integration tests the real things they need: a
// cgroup of their own, a private containerd running busybox containers
// with Kubernetes-shaped cgroups, and a real Kubernetes API server (etcd and
// kube-apiserver, no nodes). Missing prerequisites are reported through
// package prereq (skip outside CI, fail with CI=true).
package testenv
