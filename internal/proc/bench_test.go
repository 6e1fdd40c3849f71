package proc

import (
	"testing"
)

const benchProcs = 10_000

func newBenchCache(b *testing.B) *Cache {
	c, _ := newTestCache(b, nil, Options{})
	c.Exec(1, 0, "/sbin/init", []string{"/sbin/init", "splash"}, "/", 0, 0, 0, 0, TaskContext{})
	for pid := uint32(2); pid <= benchProcs; pid++ {
		c.Fork(1, pid, uint64(pid)*sec, TaskContext{})
		c.Exec(pid, 1, "/usr/bin/python3", []string{"python3", "-m", "http.server", "8080"}, "/srv", 1000, 1000, uint64(pid)*sec, uint64(pid)*sec+1, TaskContext{})
	}
	return c
}

func BenchmarkLookup(b *testing.B) {
	b.Run("hit", func(b *testing.B) {
		c := newBenchCache(b)
		b.ReportAllocs()
		pid := uint32(0)
		for b.Loop() {
			pid = pid%benchProcs + 1
			if _, ok := c.Lookup(pid); !ok {
				b.Fatalf("Lookup(%d) missed", pid)
			}
		}
	})
	b.Run("hit-parallel", func(b *testing.B) {
		c := newBenchCache(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			pid := uint32(0)
			for pb.Next() {
				pid = pid%benchProcs + 1
				c.Lookup(pid)
			}
		})
	})
}

func BenchmarkForkExecExit(b *testing.B) {
	c := newBenchCache(b)
	args := []string{"sh", "-c", "true"}
	b.ReportAllocs()
	i := uint64(0)
	for b.Loop() {
		i++
		pid := uint32(benchProcs + 1 + i%1000)
		c.Fork(1, pid, i*sec, TaskContext{})
		c.Exec(pid, 1, "/bin/sh", args, "/", 0, 0, i*sec, i*sec+1, TaskContext{})
		c.Exit(pid, i*sec+2)
	}
}
