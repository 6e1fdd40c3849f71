// Package controller drives one recording: it opens the tracer, seeds the
// process cache and the cgroup resolver, turns ring-buffer events into
// attributed checks, flushes unique-mode counts, and hands batches to a
// sink. `capprof record` and the Collector receiver are thin shells over it.
//
// Config.Validate is the one place of the settings' rules. A setting with
// a fixed set of values (tracer.Mode, Method, Verdict, kube.Auth, caps.Set)
// decodes itself with UnmarshalText, so confmap and flag.TextVar decode the
// shells' YAML and flags into it; every other rule returns a
// config.FieldError naming the Go field, which each shell renames to its
// YAML key or flag with config.RenameField. A new setting follows the
// same pattern: its type next to Verdict, its bound in Validate, a name in
// each shell's map.
package controller
