package config

import (
	"errors"
	"fmt"
	"testing"
)

func TestRenameField(t *testing.T) {
	rule := errors.New("must be positive, got 0s")
	names := map[string]string{"MaxWait": "--kube-max-wait", "NodeName": "kubernetes.node_name"}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "named field, context dropped", err: fmt.Errorf("kubernetes: %w", &FieldError{Field: "MaxWait", Err: rule}),
			want: "--kube-max-wait: must be positive, got 0s"},
		{name: "bare field error", err: &FieldError{Field: "NodeName", Err: rule}, want: "kubernetes.node_name: must be positive, got 0s"},
		{name: "field without a name kept", err: fmt.Errorf("kubernetes: %w", &FieldError{Field: "Resync", Err: rule}),
			want: "kubernetes: Resync: must be positive, got 0s"},
		{name: "no field error kept", err: fmt.Errorf("kubernetes: %w", rule), want: "kubernetes: must be positive, got 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RenameField(tt.err, names)
			if got.Error() != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if !errors.Is(got, rule) {
				t.Errorf("%q does not wrap the rule's error", got)
			}
		})
	}
}
