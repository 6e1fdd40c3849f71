package config

import (
	"errors"
	"fmt"
)

// FieldError is a configuration error about one field. Field is the Go
// field's name in the core's configuration (controller.Config and the
// configurations it holds; the names are unique across them), so that a
// shell can name the field as its user writes it: a YAML key, a flag.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

// RenameField returns err with the field of the FieldError in it named as
// names maps it ("MaxWait" -> "--kube-max-wait"), the context around the
// FieldError dropped: the new name says where the error is. err is
// returned unchanged when it holds no FieldError or names lacks its field.
func RenameField(err error, names map[string]string) error {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return err
	}
	name, ok := names[fe.Field]
	if !ok {
		return err
	}
	return fmt.Errorf("%s: %w", name, fe.Err)
}
