package tracer

import (
	"errors"
	"testing"
)

func TestCheckRelease(t *testing.T) {
	for _, tt := range []struct {
		name, release string
		below, bad    bool
	}{
		{name: "the floor", release: "5.10.0-46-amd64"},
		{name: "Debian 13", release: "6.12.118+deb13-amd64"},
		{name: "this machine kind", release: "6.18.44-fc-v657"},
		{name: "suffix on the minor", release: "5.15-rc1"},
		{name: "5.4", release: "5.4.0-216-generic", below: true},
		{name: "4.19", release: "4.19.0-27-amd64", below: true},
		{name: "no minor", release: "6", bad: true},
		{name: "not a number", release: "linux.10", bad: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := checkRelease(tt.release)
			switch {
			case tt.below:
				if !errors.Is(err, ErrBelowFloor) {
					t.Errorf("checkRelease(%q) = %v, want ErrBelowFloor", tt.release, err)
				}
			case tt.bad:
				if err == nil || errors.Is(err, ErrBelowFloor) {
					t.Errorf("checkRelease(%q) = %v, want a parse error", tt.release, err)
				}
			case err != nil:
				t.Errorf("checkRelease(%q) = %v, want nil", tt.release, err)
			}
		})
	}
}

func TestFeatureFindings(t *testing.T) {
	for _, tt := range []struct {
		name      string
		feats     Features
		syscallOK bool
		detail    string
	}{
		{"5.15+", Features{TaskBTF: true, Syscall: SyscallPtRegs}, true, "bpf_task_pt_regs (5.15+)"},
		{"5.10", Features{Syscall: SyscallStackTop, ThreadSize: 16384},
			true, "user registers at the top of the kernel stack (THREAD_SIZE 16384; bpf_task_pt_regs is 5.15+)"},
		{"none", Features{}, false, "not on this kernel: linux.syscall.id and linux.syscall.name stay empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs := tt.feats.Findings()
			if len(fs) != 2 || fs[1].Name != "syscall" {
				t.Fatalf("findings = %+v, want task fields and syscall", fs)
			}
			if fs[1].OK != tt.syscallOK || fs[1].Detail != tt.detail {
				t.Errorf("syscall finding = %+v, want ok %v %q", fs[1], tt.syscallOK, tt.detail)
			}
			if !fs[0].OK {
				t.Errorf("task fields = %+v: both ways give the same values", fs[0])
			}
		})
	}
}
