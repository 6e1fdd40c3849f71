// Package kyverno checks the kyverno format of `capprof profile`
// (internal/profile/testdata/profiles.kyverno, the golden output that
// internal/profile's tests keep current) by strict unmarshalling into
// Kyverno's own kyverno.io/v1 Go types and Kyverno's own validation of a
// Policy. It is a module of its own so that Kyverno's dependencies stay out
// of the main module.
package kyverno
