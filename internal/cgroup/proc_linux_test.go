package cgroup

import (
	"os"
	"testing"
)

func TestPathOfPIDSelf(t *testing.T) {
	// "" means /proc; every Linux process has a cgroup file there.
	p, err := PathOfPID("", os.Getpid())
	if err != nil {
		t.Fatalf("PathOfPID: %v", err)
	}
	if p == "" || p[0] != '/' {
		t.Errorf("PathOfPID = %q, want an absolute cgroup path", p)
	}
}
