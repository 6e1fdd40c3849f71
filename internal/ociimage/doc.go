// Package ociimage writes container images as OCI image layout tarballs
// (https://github.com/opencontainers/image-spec/blob/main/image-layout.md)
// from files in memory: one gzipped layer, an image config, a manifest and
// an index naming the image, which `ctr image import` reads. No registry
// and no container daemon take part.
//
// The output is reproducible: every timestamp is the Unix epoch and entries
// keep the order they are given in, so the same inputs give the same
// digests. It serves both `make image` (the agent image, cmd/ociimage) and
// the integration tests (internal/testenv's busybox image).
package ociimage
