// Package capabilitiesreceiver is the Collector receiver of type
// "capabilities": it records every Linux capability check with capprof's
// eBPF recorder (internal/controller) and emits each as a log record with
// event name linux.capability.check, one ResourceLogs per process of a
// container (or of the host) and user namespace, through checklogs.
//
//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml
package capabilitiesreceiver
