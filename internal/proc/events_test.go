package proc

import (
	"testing"
	"time"
)

const sec = uint64(time.Second)

func TestForkExecExitSequence(t *testing.T) {
	c, _ := newTestCache(t, newFakeClock(), Options{})

	// A shell forks, the child execs sudo, which forks and execs dmesg.
	c.Exec(100, 1, "/usr/bin/bash", []string{"bash"}, "/home/u", 1000, 1000, 1*sec, 1*sec+500, TaskContext{})
	c.Fork(100, 101, 2*sec, TaskContext{})
	forked := mustLookup(t, c, 101)
	c.Exec(101, 100, "/usr/bin/sudo", []string{"sudo", "dmesg"}, "", 1000, 0, 2*sec, 2*sec+100, TaskContext{})
	c.Fork(101, 102, 3*sec, TaskContext{})
	dmesgCtx := TaskContext{Namespaces: Namespaces{1, 2, 3, 4, 4, 5, 6, 6, 7, 8}, LoginUID: 1000, VPID: 102}
	c.Exec(102, 101, "/usr/bin/dmesg", []string{"dmesg"}, "/home/u", 0, 0, 3*sec, 3*sec+100, dmesgCtx)
	c.Exit(102, 4*sec)

	bashID := execID("node1", 1*sec+500, 100)
	sudoID := execID("node1", 2*sec+100, 101)
	tests := []struct {
		name string
		got  Info
		want Info
	}{
		{
			name: "exec with unknown parent",
			got:  mustLookup(t, c, 100),
			want: Info{PID: 100, PPID: 1, ExecutablePath: "/usr/bin/bash", Args: []string{"bash"}, WorkingDirectory: "/home/u", UID: 1000, EUID: 1000, StartTime: c.WallTime(1 * sec), ExecID: bashID, Context: &Context{Flags: FlagExec}},
		},
		{
			name: "fork inherits from the parent",
			got:  forked,
			want: Info{PID: 101, PPID: 100, ExecutablePath: "/usr/bin/bash", Args: []string{"bash"}, WorkingDirectory: "/home/u", UID: 1000, EUID: 1000, StartTime: c.WallTime(2 * sec), ExecID: execID("node1", 2*sec, 101), ParentExecID: bashID, ParentExecutablePath: "/usr/bin/bash", Context: &Context{Flags: FlagClone, Parent: Parent{Args: []string{"bash"}, WorkingDirectory: "/home/u", UID: 1000, EUID: 1000, StartTime: c.WallTime(1 * sec), Flags: FlagExec}}},
		},
		{
			name: "exec replaces path, args, uids and ExecID but keeps cwd",
			got:  mustLookup(t, c, 101),
			want: Info{PID: 101, PPID: 100, ExecutablePath: "/usr/bin/sudo", Args: []string{"sudo", "dmesg"}, WorkingDirectory: "/home/u", UID: 1000, EUID: 0, StartTime: c.WallTime(2 * sec), ExecID: sudoID, ParentExecID: bashID, ParentExecutablePath: "/usr/bin/bash", Context: &Context{Flags: FlagExec, Parent: Parent{Args: []string{"bash"}, WorkingDirectory: "/home/u", UID: 1000, EUID: 1000, StartTime: c.WallTime(1 * sec), Flags: FlagExec}}},
		},
		{
			name: "exited grandchild keeps its parent ids",
			got:  mustLookup(t, c, 102),
			want: Info{PID: 102, PPID: 101, ExecutablePath: "/usr/bin/dmesg", Args: []string{"dmesg"}, WorkingDirectory: "/home/u", StartTime: c.WallTime(3 * sec), ExecID: execID("node1", 3*sec+100, 102), ParentExecID: sudoID, ParentExecutablePath: "/usr/bin/sudo", Exited: true, Context: &Context{Namespaces: dmesgCtx.Namespaces, LoginUID: 1000, VPID: 102, Flags: FlagExec, Parent: Parent{Args: []string{"sudo", "dmesg"}, WorkingDirectory: "/home/u", UID: 1000, StartTime: c.WallTime(2 * sec), Flags: FlagExec}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertInfo(t, tt.got, tt.want)
		})
	}

	if st := c.Stats(); st.Live != 2 || st.Exited != 1 {
		t.Errorf("Stats() = %+v, want 2 live and 1 exited", st)
	}
}

func TestExecPathResolution(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		cwd      string
		procCwd  string // cwd link in the fake proc root
		procExe  string // exe link in the fake proc root
		wantPath string
		wantCwd  string
	}{
		{name: "dot slash", path: "./x", cwd: "/home/u", wantPath: "/home/u/x", wantCwd: "/home/u"},
		{name: "bare name", path: "x", cwd: "/tmp", wantPath: "/tmp/x", wantCwd: "/tmp"},
		{name: "dot dot", path: "../bin/x", cwd: "/opt/app", wantPath: "/opt/bin/x", wantCwd: "/opt/app"},
		{name: "absolute untouched", path: "/usr/bin/x", cwd: "/tmp", wantPath: "/usr/bin/x", wantCwd: "/tmp"},
		{name: "unknown cwd keeps relative", path: "./x", cwd: "", wantPath: "./x", wantCwd: ""},
		{name: "cwd read from proc", path: "./x", cwd: "", procCwd: "/srv", wantPath: "/srv/x", wantCwd: "/srv"},
		{name: "event cwd wins over proc", path: "./x", cwd: "/a", procCwd: "/srv", wantPath: "/a/x", wantCwd: "/a"},
		{name: "missing path read from proc", path: "", cwd: "/a", procExe: "/usr/bin/z (deleted)", wantPath: "/usr/bin/z", wantCwd: "/a"},
		{name: "missing path and no proc", path: "", cwd: "/a", wantPath: "", wantCwd: "/a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, root := newTestCache(t, newFakeClock(), Options{})
			if tt.procCwd != "" || tt.procExe != "" {
				writeFakeProc(t, root, fakeProc{pid: 10, comm: "x", args: []string{"x"}, cwd: tt.procCwd, exe: tt.procExe})
			}
			c.Exec(10, 1, tt.path, []string{"x"}, tt.cwd, 0, 0, sec, sec, TaskContext{})
			got := mustLookup(t, c, 10)
			if got.ExecutablePath != tt.wantPath || got.WorkingDirectory != tt.wantCwd {
				t.Errorf("path, cwd = %q, %q; want %q, %q", got.ExecutablePath, got.WorkingDirectory, tt.wantPath, tt.wantCwd)
			}
		})
	}
}

func TestExecCwdFallback(t *testing.T) {
	tests := []struct {
		name      string
		execStart uint64
		exitFirst bool
		wantCwd   string
	}{
		{name: "same process keeps its cwd", execStart: 2 * sec, wantCwd: "/home/u"},
		{name: "same process at tick resolution", execStart: 2*sec + nsPerTick - 1, wantCwd: "/home/u"},
		{name: "reused pid does not inherit", execStart: 7 * sec, wantCwd: ""},
		{name: "exited entry does not lend its cwd", execStart: 2 * sec, exitFirst: true, wantCwd: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestCache(t, newFakeClock(), Options{})
			c.Exec(100, 1, "/usr/bin/bash", nil, "/home/u", 0, 0, sec, sec, TaskContext{})
			c.Fork(100, 101, 2*sec, TaskContext{})
			if tt.exitFirst {
				c.Exit(101, 3*sec)
			}
			c.Exec(101, 100, "/bin/true", nil, "", 0, 0, tt.execStart, 8*sec, TaskContext{})
			if got := mustLookup(t, c, 101).WorkingDirectory; got != tt.wantCwd {
				t.Errorf("WorkingDirectory = %q, want %q", got, tt.wantCwd)
			}
		})
	}
}

func TestPIDReuse(t *testing.T) {
	tests := []struct {
		name    string
		exit    bool // whether the first process's exit was seen
		reuse   func(c *Cache)
		wantID  string
		wantExe string
	}{
		{
			name:    "fork replaces exited entry",
			exit:    true,
			reuse:   func(c *Cache) { c.Fork(1, 50, 9*sec, TaskContext{}) },
			wantID:  execID("node1", 9*sec, 50),
			wantExe: "/sbin/init",
		},
		{
			name:    "exec replaces exited entry",
			exit:    true,
			reuse:   func(c *Cache) { c.Exec(50, 1, "/bin/b", []string{"b"}, "/", 0, 0, 9*sec, 9*sec+1, TaskContext{}) },
			wantID:  execID("node1", 9*sec+1, 50),
			wantExe: "/bin/b",
		},
		{
			name:    "fork replaces live entry whose exit was lost",
			exit:    false,
			reuse:   func(c *Cache) { c.Fork(1, 50, 9*sec, TaskContext{}) },
			wantID:  execID("node1", 9*sec, 50),
			wantExe: "/sbin/init",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestCache(t, newFakeClock(), Options{})
			c.Exec(1, 0, "/sbin/init", []string{"init"}, "/", 0, 0, 0, 0, TaskContext{})
			c.Exec(50, 1, "/bin/a", []string{"a"}, "/", 0, 0, sec, sec, TaskContext{})
			if tt.exit {
				c.Exit(50, 2*sec)
			}
			tt.reuse(c)

			got := mustLookup(t, c, 50)
			if got.Exited || got.ExecID != tt.wantID || got.ExecutablePath != tt.wantExe {
				t.Errorf("got exited=%v id=%q exe=%q, want live %q %q", got.Exited, got.ExecID, got.ExecutablePath, tt.wantID, tt.wantExe)
			}
			if st := c.Stats(); st.Live != 2 || st.Exited != 0 {
				t.Errorf("Stats() = %+v, want 2 live and 0 exited", st)
			}
		})
	}
}

func TestForkUnknownParent(t *testing.T) {
	tests := []struct {
		name     string
		proc     *fakeProc
		wantExe  string
		wantArgs []string
		wantCwd  string
		wantUID  uint32
	}{
		{name: "nothing in proc"},
		{
			name:     "proc shows the same process",
			proc:     &fakeProc{pid: 60, ppid: 5, comm: "d", startTicks: 300, uid: 7, euid: 7, args: []string{"/bin/d", "-x"}, exe: "/bin/d", cwd: "/var"},
			wantExe:  "/bin/d",
			wantArgs: []string{"/bin/d", "-x"},
			wantCwd:  "/var",
			wantUID:  7,
		},
		{
			name: "proc shows a process that reused the pid",
			proc: &fakeProc{pid: 60, ppid: 9, comm: "other", startTicks: 999, uid: 7, euid: 7, args: []string{"/bin/other"}, exe: "/bin/other"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, root := newTestCache(t, newFakeClock(), Options{})
			if tt.proc != nil {
				writeFakeProc(t, root, *tt.proc)
			}
			// The kernel's context wins over /proc's, which may be another process's.
			ctx := TaskContext{Namespaces: Namespaces{9, 9, 9, 9, 9, 9, 9, 9, 9, 9}, LoginUID: UnsetLoginUID, VPID: 3}
			c.Fork(5, 60, 300*nsPerTick+123, ctx)
			want := Info{PID: 60, PPID: 5, ExecutablePath: tt.wantExe, Args: tt.wantArgs, WorkingDirectory: tt.wantCwd, UID: tt.wantUID, EUID: tt.wantUID, StartTime: c.WallTime(300*nsPerTick + 123), ExecID: execID("node1", 300*nsPerTick+123, 60), Context: &Context{Namespaces: ctx.Namespaces, LoginUID: UnsetLoginUID, VPID: 3, Flags: FlagClone}}
			assertInfo(t, mustLookup(t, c, 60), want)
		})
	}
}

func TestExitUnknownPID(t *testing.T) {
	c, _ := newTestCache(t, newFakeClock(), Options{})
	c.Exit(77, sec)
	if st := c.Stats(); st.Live != 0 || st.Exited != 0 {
		t.Errorf("Stats() = %+v, want empty", st)
	}
}

// A container's first process is forked into a new pid namespace (pid 1
// there); its start is every process of the namespace's PIDNamespaceStart,
// until the first process is evicted and the namespace's inode may be reused.
func TestPIDNamespaceStart(t *testing.T) {
	clock := newFakeClock()
	host := Namespaces{1, 2, 3, 4, 4, 5, 6, 6, 7, 8}
	c, _ := newTestCache(t, clock, Options{HostNamespaces: host, ExitedTTL: time.Minute})
	ctr := host
	for _, k := range []NamespaceKind{NSUTS, NSIPC, NSMnt, NSPID, NSPIDForChildren, NSNet, NSCgroup} {
		ctr[k] = 100 + uint32(k)
	}
	ctrHost := NamespaceSet(1<<NSTime | 1<<NSTimeForChildren | 1<<NSUser)

	c.Exec(10, 1, "/usr/bin/runc", []string{"runc", "init"}, "/", 0, 0, sec, sec, TaskContext{Namespaces: host, VPID: 10})
	c.Fork(10, 11, 2*sec, TaskContext{Namespaces: ctr, LoginUID: UnsetLoginUID, VPID: 1})
	c.Exec(11, 10, "/bin/sh", []string{"sh"}, "/", 0, 0, 2*sec, 3*sec, TaskContext{Namespaces: ctr, LoginUID: UnsetLoginUID, VPID: 1})
	c.Fork(11, 12, 4*sec, TaskContext{Namespaces: ctr, LoginUID: UnsetLoginUID, VPID: 2})

	if got := mustLookup(t, c, 10); got.Context.HostNamespaces != 1<<NumNamespaceKinds-1 || !got.Context.PIDNamespaceStart.IsZero() {
		t.Errorf("host process: HostNamespaces %b, PIDNamespaceStart %v; want all and none", got.Context.HostNamespaces, got.Context.PIDNamespaceStart)
	}
	for _, pid := range []uint32{11, 12} {
		got := mustLookup(t, c, pid)
		if got.Context.HostNamespaces != ctrHost || !got.Context.PIDNamespaceStart.Equal(c.WallTime(2*sec)) {
			t.Errorf("pid %d: HostNamespaces %b, PIDNamespaceStart %v; want %b, %v", pid,
				got.Context.HostNamespaces, got.Context.PIDNamespaceStart, ctrHost, c.WallTime(2*sec))
		}
	}

	c.Exit(12, 5*sec)
	c.Exit(11, 5*sec)
	clock.Advance(2 * time.Minute)
	// The namespace's inode is reused by another container, whose first
	// process the cache missed: its processes have no start.
	c.Fork(10, 20, 9*sec, TaskContext{Namespaces: ctr, VPID: 3})
	if got := mustLookup(t, c, 20); !got.Context.PIDNamespaceStart.IsZero() {
		t.Errorf("after the first process was evicted, PIDNamespaceStart = %v, want zero", got.Context.PIDNamespaceStart)
	}
}
