// Package syscalls maps Linux syscall numbers to names for x86_64 and arm64.
//
// Both tables are compiled on every GOARCH, because a recorder may decode
// events captured on another architecture. They are generated from the UAPI
// headers of the linux-libc-dev package installed when `go generate` last
// ran (see the header of each ztable_*.go file); syscalls added by newer
// kernels are unknown until the tables are regenerated with newer headers.
package syscalls

//go:generate go run gen/main.go
