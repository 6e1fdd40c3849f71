package config

import (
	"fmt"
	"strings"
)

// Names are the values of an enumerated setting and their names, in the
// order messages list them. A setting's type implements
// encoding.TextUnmarshaler with Parse and encoding.TextMarshaler with Name,
// so that confmap (the receiver) and flag.TextVar (the CLI) decode it and
// no shell parses it.
type Names[T comparable] []Name[T]

// Name is one value of a setting and its name.
type Name[T comparable] struct {
	Value T
	Name  string
}

// Parse returns the value named text.
func (ns Names[T]) Parse(text []byte) (T, error) {
	for _, n := range ns {
		if n.Name == string(text) {
			return n.Value, nil
		}
	}
	var zero T
	return zero, fmt.Errorf("%q is not %s", text, ns)
}

// Check returns an error when v is none of the values: a Go caller can
// write any value of T, a user only a named one.
func (ns Names[T]) Check(v T) error {
	_, err := ns.Text(v)
	return err
}

// Text returns v's name, or an error when v has none.
func (ns Names[T]) Text(v T) ([]byte, error) {
	for _, n := range ns {
		if n.Value == v {
			return []byte(n.Name), nil
		}
	}
	return nil, fmt.Errorf("%#v is not %s", v, ns)
}

// Format returns v's name, or v as Go writes it when v has none (for a
// String method: fmt's %v would call it again).
func (ns Names[T]) Format(v T) string {
	if name, err := ns.Text(v); err == nil {
		return string(name)
	}
	return fmt.Sprintf("%T(%#v)", v, v)
}

// String lists the names: "a, b or c".
func (ns Names[T]) String() string {
	var b strings.Builder
	for i, n := range ns {
		switch {
		case i == 0:
		case i == len(ns)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(n.Name)
	}
	return b.String()
}
