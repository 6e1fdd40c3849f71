package procstat

import (
	"os"
	"testing"
	"time"
)

func TestOwnProcess(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	m, err := ReadMemory(os.Getpid(), exe)
	if err != nil {
		t.Fatal(err)
	}
	if m.Total <= 0 || m.Binary <= 0 || m.Anon <= 0 || m.Binary+m.Anon+m.BPF > m.Total {
		t.Errorf("memory %+v: want a total, the test binary's and anonymous pages within it", m)
	}
	before, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the kernel has charged this process a few ticks more.
	deadline := time.Now().Add(30 * time.Second)
	for after := before; after < before+3*clockTick; {
		if after, err = CPUTime(os.Getpid()); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time stayed at %s through 30 s of spinning", after)
		}
	}
	busy, total, err := MachineCPU()
	if err != nil {
		t.Fatal(err)
	}
	if busy <= 0 || total < busy || total < time.Second {
		t.Errorf("machine CPU busy %s of %s: want some of a positive total", busy, total)
	}
}
