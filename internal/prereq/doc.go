// Package prereq lets a test say what it needs from the machine (root, a
// command, a kernel file). Outside CI a missing prerequisite skips the test
// with a message naming it; with CI=true it fails the test, so a broken CI
// machine can never pass by skipping. It imports nothing of capprof's, so
// every package's tests can use it.
package prereq
