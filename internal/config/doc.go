// Package config holds what the core's configurations share with the
// shells that fill them (the receiver's YAML, the CLI's flags): errors that
// name the field they are about, so that each shell renames the field to
// its own vocabulary while the rule is checked once, in the core; and the
// names of enumerated settings, which decode themselves with UnmarshalText.
package config
