// Package dockerfile builds the repository's Dockerfile and checks the
// image against `make image`'s.
//
// With the dockerfile build tag (`make test-dockerfile`, root): build.sh
// builds the Dockerfile with Debian's buildah against stand-ins for its
// base images (no registry is reachable here); the test then compares the
// image with `make image`'s OCI tarball file by file (path, type, mode,
// content), and its entrypoint, command, user and labels, and runs
// `otelcol-capprof --version` in it under containerd.
package dockerfile
