package proc

import (
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// layoutFakeRoot writes a proc root with the awkward cases a real one has,
// and a container: its first process (pid 1 in its pid namespace) and a
// process inside, in namespaces of their own but the user and time ones.
// It returns the host's namespaces and the container's.
func layoutFakeRoot(t *testing.T, root string) (host, ctr Namespaces) {
	t.Helper()
	hostDir, ctrDir := filepath.Join(root, "hostns"), filepath.Join(root, "ctrns")
	host = writeFakeNamespaces(t, hostDir, "")
	ctr = writeFakeNamespaces(t, ctrDir, hostDir, NSUser, NSTime, NSTimeForChildren)
	procs := []fakeProc{
		{pid: 1, ppid: 0, comm: "systemd", startTicks: 10, args: []string{"/sbin/init", "splash"}, exe: "/usr/lib/systemd/systemd", cwd: "/",
			nspid: []uint32{1}, loginUID: "4294967295", ns: hostDir},
		{pid: 2, ppid: 0, comm: "kthreadd", startTicks: 10, nspid: []uint32{2}, ns: hostDir},
		{pid: 100, ppid: 1, comm: "bash", startTicks: 500, uid: 1000, euid: 1000, args: []string{"-bash"}, exe: "/usr/bin/bash", cwd: "/home/u",
			nspid: []uint32{100}, loginUID: "1000", ns: hostDir},
		{pid: 200, ppid: 100, comm: "evil) S 1 (x", startTicks: 600, uid: 1000, euid: 0, args: []string{"./tool", "--flag"}, exe: "/opt/tool (deleted)", cwd: "/opt",
			nspid: []uint32{200}, loginUID: "1000", ns: hostDir},
		// No exe link but a cmdline: another user's process seen without
		// CAP_SYS_PTRACE, which falls back to argv[0].
		{pid: 300, ppid: 1, comm: "nginx", startTicks: 700, uid: 33, euid: 33, args: []string{"nginx: worker process"}},
		{pid: 400, ppid: 100, comm: "defunct", state: "Z", startTicks: 800},
		// A container's process (pid 7 in it) listed before its first.
		{pid: 450, ppid: 500, comm: "dmesg", startTicks: 950, uid: 65534, euid: 65534, args: []string{"dmesg"}, exe: "/bin/dmesg", cwd: "/",
			nspid: []uint32{450, 7}, loginUID: "4294967295", ns: ctrDir},
		{pid: 500, ppid: 1, comm: "sh", startTicks: 900, args: []string{"sh"}, exe: "/bin/sh", cwd: "/",
			nspid: []uint32{500, 1}, loginUID: "4294967295", ns: ctrDir},
	}
	for _, p := range procs {
		writeFakeProc(t, root, p)
	}
	// A process that vanished between readdir and reading it.
	if err := os.Mkdir(filepath.Join(root, "999"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Entries that are not processes.
	for _, d := range []string{"self", "net", "sys"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "uptime"), []byte("1.00 2.00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return host, ctr
}

func TestScanFakeRoot(t *testing.T) {
	root := t.TempDir()
	hostNS, ctrNS := layoutFakeRoot(t, root)
	host, err := HostNamespaces(root, slog.New(slog.DiscardHandler))
	if err != nil || host != hostNS {
		t.Fatalf("HostNamespaces() = %v, %v; want pid 1's %v", host, err, hostNS)
	}
	c := NewCache(Options{Node: "node1", ProcRoot: root, Now: newFakeClock().Now, HostNamespaces: host})

	n, err := c.Scan()
	if err != nil {
		t.Fatalf("Scan() error = %v", err)
	}
	if n != 8 {
		t.Errorf("Scan() added %d, want 8", n)
	}

	ticks := map[uint32]uint64{1: 10, 2: 10, 100: 500, 200: 600, 300: 700, 400: 800, 450: 950, 500: 900}
	at := func(pid uint32) time.Time { return c.WallTime(ticks[pid] * nsPerTick) }
	id := func(pid uint32) string { return execID("node1", ticks[pid]*nsPerTick, pid) }
	const allHost, unset = NamespaceSet(1<<NumNamespaceKinds - 1), UnsetLoginUID
	ctrHost := NamespaceSet(1<<NSUser | 1<<NSTime | 1<<NSTimeForChildren)
	tests := []struct {
		name string
		pid  uint32
		want Info
	}{
		{
			name: "init",
			pid:  1,
			want: Info{PID: 1, ExecutablePath: "/usr/lib/systemd/systemd", Args: []string{"/sbin/init", "splash"}, WorkingDirectory: "/", ExecID: id(1), Context: &Context{Namespaces: hostNS, HostNamespaces: allHost, LoginUID: unset, VPID: 1, Flags: FlagProcFS}},
		},
		{
			name: "kernel thread",
			pid:  2,
			want: Info{PID: 2, ExecID: id(2), Context: &Context{Namespaces: hostNS, HostNamespaces: allHost, LoginUID: unset, VPID: 2, Flags: FlagProcFS}},
		},
		{
			name: "shell",
			pid:  100,
			want: Info{PID: 100, PPID: 1, ExecutablePath: "/usr/bin/bash", Args: []string{"-bash"}, WorkingDirectory: "/home/u", UID: 1000, EUID: 1000, ExecID: id(100), ParentExecID: id(1), ParentExecutablePath: "/usr/lib/systemd/systemd", Context: &Context{Namespaces: hostNS, HostNamespaces: allHost, LoginUID: 1000, VPID: 100, Flags: FlagProcFS, Parent: Parent{Args: []string{"/sbin/init", "splash"}, WorkingDirectory: "/", LoginUID: unset, StartTime: at(1), Flags: FlagProcFS}}},
		},
		{
			name: "comm with spaces and parenthesis, deleted exe",
			pid:  200,
			want: Info{PID: 200, PPID: 100, ExecutablePath: "/opt/tool", Args: []string{"./tool", "--flag"}, WorkingDirectory: "/opt", UID: 1000, EUID: 0, ExecID: id(200), ParentExecID: id(100), ParentExecutablePath: "/usr/bin/bash", Context: &Context{Namespaces: hostNS, HostNamespaces: allHost, LoginUID: 1000, VPID: 200, Flags: FlagProcFS, Parent: Parent{Args: []string{"-bash"}, WorkingDirectory: "/home/u", UID: 1000, EUID: 1000, LoginUID: 1000, StartTime: at(100), Flags: FlagProcFS}}},
		},
		{
			name: "unreadable exe falls back to argv[0]; no namespaces, NSpid or loginuid",
			pid:  300,
			want: Info{PID: 300, PPID: 1, ExecutablePath: "nginx: worker process", Args: []string{"nginx: worker process"}, UID: 33, EUID: 33, ExecID: id(300), ParentExecID: id(1), ParentExecutablePath: "/usr/lib/systemd/systemd", Context: &Context{LoginUID: unset, Flags: FlagProcFS, Parent: Parent{Args: []string{"/sbin/init", "splash"}, WorkingDirectory: "/", LoginUID: unset, StartTime: at(1), Flags: FlagProcFS}}},
		},
		{
			name: "zombie is kept as exited",
			pid:  400,
			want: Info{PID: 400, PPID: 100, ExecID: id(400), Exited: true, ParentExecID: id(100), ParentExecutablePath: "/usr/bin/bash", Context: &Context{LoginUID: unset, Flags: FlagProcFS, Parent: Parent{Args: []string{"-bash"}, WorkingDirectory: "/home/u", UID: 1000, EUID: 1000, LoginUID: 1000, StartTime: at(100), Flags: FlagProcFS}}},
		},
		{
			name: "a container's first process",
			pid:  500,
			want: Info{PID: 500, PPID: 1, ExecutablePath: "/bin/sh", Args: []string{"sh"}, WorkingDirectory: "/", ExecID: id(500), ParentExecID: id(1), ParentExecutablePath: "/usr/lib/systemd/systemd", Context: &Context{Namespaces: ctrNS, HostNamespaces: ctrHost, LoginUID: unset, VPID: 1, PIDNamespaceStart: at(500), Flags: FlagProcFS, Parent: Parent{Args: []string{"/sbin/init", "splash"}, WorkingDirectory: "/", LoginUID: unset, StartTime: at(1), Flags: FlagProcFS}}},
		},
		{
			name: "a process in the container, listed before its parent",
			pid:  450,
			want: Info{PID: 450, PPID: 500, ExecutablePath: "/bin/dmesg", Args: []string{"dmesg"}, WorkingDirectory: "/", UID: 65534, EUID: 65534, ExecID: id(450), ParentExecID: id(500), ParentExecutablePath: "/bin/sh", Context: &Context{Namespaces: ctrNS, HostNamespaces: ctrHost, LoginUID: unset, VPID: 7, PIDNamespaceStart: at(500), Flags: FlagProcFS, Parent: Parent{Args: []string{"sh"}, WorkingDirectory: "/", LoginUID: unset, StartTime: at(500), Flags: FlagProcFS}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustLookup(t, c, tt.pid)
			tt.want.StartTime = at(tt.pid)
			assertInfo(t, got, tt.want)
		})
	}

	if _, ok := c.Lookup(999); ok {
		t.Error("Lookup(999) found a vanished process")
	}
	st := c.Stats()
	if st.Live != 7 || st.Exited != 1 {
		t.Errorf("Stats() = %+v, want 7 live and 1 exited", st)
	}
}

func TestScanReportsUnreadable(t *testing.T) {
	c, root := newTestCache(t, newFakeClock(), Options{})
	writeFakeProc(t, root, fakeProc{pid: 10, comm: "ok", startTicks: 1, args: []string{"/bin/ok"}, exe: "/bin/ok"})
	bad := filepath.Join(root, "11")
	if err := os.Mkdir(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "stat"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}

	n, err := c.Scan()
	if err == nil || !strings.Contains(err.Error(), "pid 11") {
		t.Errorf("Scan() error = %v, want one naming pid 11", err)
	}
	if n != 1 {
		t.Errorf("Scan() added %d, want 1", n)
	}
	mustLookup(t, c, 10)
}

func TestScanMissingRoot(t *testing.T) {
	c := NewCache(Options{ProcRoot: filepath.Join(t.TempDir(), "absent")})
	if _, err := c.Scan(); err == nil {
		t.Error("Scan() of a missing root succeeded")
	}
}

func TestScanKeepsEventEntries(t *testing.T) {
	c, root := newTestCache(t, newFakeClock(), Options{})
	writeFakeProc(t, root, fakeProc{pid: 10, comm: "old", startTicks: 1, args: []string{"/bin/old"}, exe: "/bin/old"})
	writeFakeProc(t, root, fakeProc{pid: 11, comm: "other", startTicks: 1, args: []string{"/bin/other"}, exe: "/bin/other"})
	c.Exec(10, 1, "/bin/new", []string{"new"}, "/", 0, 0, 1*nsPerTick, 5*nsPerTick, TaskContext{})

	n, err := c.Scan()
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("Scan() added %d, want 1", n)
	}
	if got := mustLookup(t, c, 10); got.ExecutablePath != "/bin/new" {
		t.Errorf("Scan overwrote an event entry: path %q", got.ExecutablePath)
	}
}

func assertInfo(t *testing.T, got, want Info) {
	t.Helper()
	if !slices.Equal(got.Args, want.Args) {
		t.Errorf("Args = %q, want %q", got.Args, want.Args)
	}
	got.Args, want.Args = nil, nil
	if !got.StartTime.Equal(want.StartTime) {
		t.Errorf("StartTime = %v, want %v", got.StartTime, want.StartTime)
	}
	got.StartTime = want.StartTime
	// The contexts are compared by value, their times as instants.
	if (got.Context == nil) != (want.Context == nil) {
		t.Errorf("Context = %+v, want %+v", got.Context, want.Context)
	} else if got.Context != nil {
		g, w := *got.Context, *want.Context
		for _, tm := range []struct {
			name      string
			got, want *time.Time
		}{
			{"PIDNamespaceStart", &g.PIDNamespaceStart, &w.PIDNamespaceStart},
			{"Parent.StartTime", &g.Parent.StartTime, &w.Parent.StartTime},
		} {
			if !tm.got.Equal(*tm.want) {
				t.Errorf("%s = %v, want %v", tm.name, *tm.got, *tm.want)
			}
			*tm.got = *tm.want
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("Context mismatch\n got %+v\nwant %+v", g, w)
		}
	}
	got.Context, want.Context = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Info mismatch\n got %+v\nwant %+v", got, want)
	}
}
