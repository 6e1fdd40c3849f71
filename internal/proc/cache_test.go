package proc

import (
	"errors"
	"github.com/capprof/capprof/internal/prereq"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestExitedTTL(t *testing.T) {
	tests := []struct {
		name        string
		ttl         time.Duration
		wait        time.Duration
		trigger     func(c *Cache) // the call expected to evict
		wantPresent bool
	}{
		{name: "kept before the TTL", wait: 29 * time.Second, wantPresent: true},
		{name: "evicted at the default TTL", wait: 30 * time.Second},
		{name: "custom TTL kept", ttl: time.Minute, wait: 59 * time.Second, wantPresent: true},
		{name: "custom TTL evicted", ttl: time.Minute, wait: time.Minute},
		{name: "evicted by an unrelated event", wait: time.Hour, trigger: func(c *Cache) { c.Fork(1, 2, sec, TaskContext{}) }},
		{name: "evicted by Stats", wait: time.Hour, trigger: func(c *Cache) { c.Stats() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			c, _ := newTestCache(t, clock, Options{ExitedTTL: tt.ttl})
			c.Exec(1, 0, "/sbin/init", nil, "/", 0, 0, 0, 0, TaskContext{})
			c.Exec(10, 1, "/bin/x", nil, "/", 0, 0, sec, sec, TaskContext{})
			c.Exit(10, 2*sec)
			clock.Advance(tt.wait)
			if tt.trigger != nil {
				tt.trigger(c)
				// Look at the map directly: Lookup would evict by itself.
				c.mu.Lock()
				_, present := c.entries[10]
				c.mu.Unlock()
				if present != tt.wantPresent {
					t.Fatalf("after trigger present = %v, want %v", present, tt.wantPresent)
				}
			}
			info, ok := c.Lookup(10)
			if ok != tt.wantPresent {
				t.Fatalf("Lookup() ok = %v, want %v", ok, tt.wantPresent)
			}
			if ok && !info.Exited {
				t.Error("Lookup() of an exited process has Exited = false")
			}
			wantEvicted := uint64(1)
			if tt.wantPresent {
				wantEvicted = 0
			}
			if st := c.Stats(); st.Evicted != wantEvicted {
				t.Errorf("Stats().Evicted = %d, want %d", st.Evicted, wantEvicted)
			}
		})
	}
}

func TestExitTwiceKeepsFirstTime(t *testing.T) {
	clock := newFakeClock()
	c, _ := newTestCache(t, clock, Options{})
	c.Exec(10, 1, "/bin/x", nil, "/", 0, 0, sec, sec, TaskContext{})
	c.Exit(10, 2*sec)
	clock.Advance(20 * time.Second)
	c.Exit(10, 3*sec)
	clock.Advance(15 * time.Second)
	if _, ok := c.Lookup(10); ok {
		t.Error("second Exit restarted the TTL")
	}
}

func TestMaxEntries(t *testing.T) {
	clock := newFakeClock()
	c, _ := newTestCache(t, clock, Options{MaxEntries: 3})
	exec := func(pid uint32) {
		c.Exec(pid, 1, "/bin/x", []string{"x"}, "/", 0, 0, uint64(pid)*sec, uint64(pid)*sec, TaskContext{})
	}
	exec(1)
	exec(2)
	exec(3)
	c.Exit(3, 0)
	clock.Advance(time.Second)
	c.Exit(2, 0)

	steps := []struct {
		name    string
		do      func()
		present []uint32
		absent  []uint32
		want    Stats
	}{
		{
			name:    "oldest exit evicted first",
			do:      func() { exec(4) },
			present: []uint32{1, 2, 4},
			absent:  []uint32{3},
			want:    Stats{Live: 2, Exited: 1, Evicted: 1},
		},
		{
			name:    "then the next exited",
			do:      func() { exec(5) },
			present: []uint32{1, 4, 5},
			absent:  []uint32{2},
			want:    Stats{Live: 3, Evicted: 2},
		},
		{
			name:    "refused when full of live processes",
			do:      func() { exec(6); c.Fork(1, 7, 7*sec, TaskContext{}) },
			present: []uint32{1, 4, 5},
			absent:  []uint32{6, 7},
			want:    Stats{Live: 3, Evicted: 2, Refused: 2},
		},
		{
			name:    "replacing a cached pid needs no room",
			do:      func() { c.Exec(5, 1, "/bin/y", nil, "/", 0, 0, 5*sec, 50*sec, TaskContext{}) },
			present: []uint32{1, 4, 5},
			want:    Stats{Live: 3, Evicted: 2, Refused: 2},
		},
	}
	for _, st := range steps {
		st.do()
		// Check presence under the lock rather than with Lookup, whose miss
		// path would change the counters.
		c.mu.Lock()
		for _, pid := range st.present {
			if _, ok := c.entries[pid]; !ok {
				t.Errorf("%s: pid %d missing", st.name, pid)
			}
		}
		for _, pid := range st.absent {
			if _, ok := c.entries[pid]; ok {
				t.Errorf("%s: pid %d present", st.name, pid)
			}
		}
		c.mu.Unlock()
		if got := c.Stats(); got != st.want {
			t.Errorf("%s: Stats() = %+v, want %+v", st.name, got, st.want)
		}
	}
}

func TestLookupMiss(t *testing.T) {
	c, root := newTestCache(t, newFakeClock(), Options{})
	c.Exec(5, 1, "/usr/sbin/sshd", []string{"sshd"}, "/", 0, 0, sec, 2*sec, TaskContext{})
	writeFakeProc(t, root, fakeProc{pid: 70, ppid: 5, comm: "sshd", startTicks: 400, args: []string{"sshd: u"}, exe: "/usr/sbin/sshd", cwd: "/"})
	writeFakeProc(t, root, fakeProc{pid: 71, ppid: 5, comm: "gone", state: "Z", startTicks: 401})
	writeFakeProc(t, root, fakeProc{pid: 72, tgid: 70, ppid: 5, comm: "thread", startTicks: 402, args: []string{"sshd: u"}, exe: "/usr/sbin/sshd"})

	tests := []struct {
		name       string
		pid        uint32
		wantOK     bool
		wantExited bool
		wantMisses uint64
	}{
		{name: "found through proc", pid: 70, wantOK: true, wantMisses: 1},
		{name: "then cached", pid: 70, wantOK: true, wantMisses: 1},
		{name: "zombie comes back exited", pid: 71, wantOK: true, wantExited: true, wantMisses: 2},
		{name: "thread id is not a process", pid: 72, wantMisses: 3},
		{name: "unknown", pid: 73, wantMisses: 4},
		{name: "unknown again reads proc again", pid: 73, wantMisses: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, ok := c.Lookup(tt.pid)
			if ok != tt.wantOK || info.Exited != tt.wantExited {
				t.Errorf("Lookup(%d) = exited %v, ok %v; want %v, %v", tt.pid, info.Exited, ok, tt.wantExited, tt.wantOK)
			}
			if got := c.Stats().Misses; got != tt.wantMisses {
				t.Errorf("Misses = %d, want %d", got, tt.wantMisses)
			}
		})
	}

	got := mustLookup(t, c, 70)
	want := Info{PID: 70, PPID: 5, ExecutablePath: "/usr/sbin/sshd", Args: []string{"sshd: u"}, WorkingDirectory: "/", StartTime: c.WallTime(400 * nsPerTick), ExecID: execID("node1", 400*nsPerTick, 70), ParentExecID: execID("node1", 2*sec, 5), ParentExecutablePath: "/usr/sbin/sshd", Context: &Context{LoginUID: UnsetLoginUID, Flags: FlagProcFS, Parent: Parent{Args: []string{"sshd"}, WorkingDirectory: "/", StartTime: c.WallTime(sec), Flags: FlagExec}}}
	assertInfo(t, got, want)
}

func TestLookupReturnsCopy(t *testing.T) {
	c, _ := newTestCache(t, newFakeClock(), Options{})
	c.Exec(10, 1, "/bin/x", []string{"x", "y"}, "/", 0, 0, sec, sec, TaskContext{})
	c.Fork(10, 11, 2*sec, TaskContext{})
	got := mustLookup(t, c, 10)
	got.Args[0] = "changed"
	for _, pid := range []uint32{10, 11} {
		if args := mustLookup(t, c, pid).Args; args[0] != "x" {
			t.Errorf("pid %d: Args[0] = %q after a caller modified a returned slice", pid, args[0])
		}
	}
}

func TestNewCacheDefaults(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		wantRoot string
		wantTTL  time.Duration
		wantMax  int
	}{
		{name: "zero", wantRoot: "/proc", wantTTL: 30 * time.Second, wantMax: 65536},
		{name: "negative", opts: Options{ExitedTTL: -1, MaxEntries: -1}, wantRoot: "/proc", wantTTL: 30 * time.Second, wantMax: 65536},
		{name: "set", opts: Options{ProcRoot: "/host/proc", ExitedTTL: time.Second, MaxEntries: 10}, wantRoot: "/host/proc", wantTTL: time.Second, wantMax: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCache(tt.opts)
			if c.procRoot != tt.wantRoot || c.ttl != tt.wantTTL || c.max != tt.wantMax || c.now == nil {
				t.Errorf("NewCache() = root %q ttl %v max %d, want %q %v %d", c.procRoot, c.ttl, c.max, tt.wantRoot, tt.wantTTL, tt.wantMax)
			}
		})
	}
}

func TestWallTime(t *testing.T) {
	c := NewCache(Options{})
	zero := c.WallTime(0)
	if d := c.WallTime(5 * sec).Sub(zero); d != 5*time.Second {
		t.Errorf("WallTime(5s) - WallTime(0) = %v, want 5s", d)
	}
	if c.WallTime(math.MaxUint64).Before(zero) {
		t.Error("WallTime wrapped around for a huge input")
	}
	// The clocks and /proc/stat's btime describe the same instant; btime
	// is truncated to the second.
	btime, err := readBtime(filepath.Join("/proc", "stat"))
	if err != nil {
		prereq.Missing(t, "/proc/stat: %v", err)
	}
	if d := zero.Sub(btime); d < -2*time.Second || d > 2*time.Second {
		t.Errorf("boot time %v differs from btime %v by %v", zero, btime, d)
	}
}

func TestBootWallTimeFallbacks(t *testing.T) {
	clocks := time.Unix(1700000000, 123456789)
	fromClocks := func() (time.Time, error) { return clocks, nil }
	noClocks := func() (time.Time, error) { return time.Time{}, errors.New("no clocks") }
	tests := []struct {
		name       string
		stat       string // "" means no stat file
		fromClocks func() (time.Time, error)
		want       time.Time
	}{
		{name: "clocks preferred", stat: "btime 1600000000\n", fromClocks: fromClocks, want: clocks},
		{name: "btime without clocks", stat: "cpu 1\nbtime 1600000000\n", fromClocks: noClocks, want: time.Unix(1600000000, 0)},
		{name: "epoch without either", fromClocks: noClocks, want: time.Unix(0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.stat != "" {
				writeFile(t, filepath.Join(root, "stat"), tt.stat)
			}
			if got := bootWallTime(root, tt.fromClocks); !got.Equal(tt.want) {
				t.Errorf("bootWallTime() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestConcurrentUse exercises the documented model, one event writer and
// concurrent readers, under the race detector.
func TestConcurrentUse(t *testing.T) {
	c, _ := newTestCache(t, nil, Options{MaxEntries: 256, ExitedTTL: time.Millisecond})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for i := uint32(0); ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if info, ok := c.Lookup(i%300 + 1); ok && len(info.Args) > 0 {
					info.Args[0] = "scribble" // must not reach the cache
				}
				c.Stats()
			}
		})
	}
	c.Exec(1, 0, "/sbin/init", []string{"init"}, "/", 0, 0, 0, 0, TaskContext{})
	for i := uint64(0); i < 5000; i++ {
		pid := uint32(i%300 + 2)
		c.Fork(1, pid, i*sec, TaskContext{})
		c.Exec(pid, 1, "/bin/x", []string{"x"}, "/", 0, 0, i*sec, i*sec+1, TaskContext{})
		c.Exit(pid, i*sec+2)
	}
	close(stop)
	wg.Wait()
	if args := mustLookup(t, c, 1).Args; args[0] != "init" {
		t.Errorf("Args[0] = %q", args[0])
	}
}
