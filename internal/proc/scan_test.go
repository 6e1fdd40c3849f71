package proc

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// layoutFakeRoot writes a proc root with the awkward cases a real one has.
func layoutFakeRoot(t *testing.T, root string) {
	t.Helper()
	procs := []fakeProc{
		{pid: 1, ppid: 0, comm: "systemd", startTicks: 10, args: []string{"/sbin/init", "splash"}, exe: "/usr/lib/systemd/systemd", cwd: "/"},
		{pid: 2, ppid: 0, comm: "kthreadd", startTicks: 10},
		{pid: 100, ppid: 1, comm: "bash", startTicks: 500, uid: 1000, euid: 1000, args: []string{"-bash"}, exe: "/usr/bin/bash", cwd: "/home/u"},
		{pid: 200, ppid: 100, comm: "evil) S 1 (x", startTicks: 600, uid: 1000, euid: 0, args: []string{"./tool", "--flag"}, exe: "/opt/tool (deleted)", cwd: "/opt"},
		// No exe link but a cmdline: another user's process seen without
		// CAP_SYS_PTRACE, which falls back to argv[0].
		{pid: 300, ppid: 1, comm: "nginx", startTicks: 700, uid: 33, euid: 33, args: []string{"nginx: worker process"}},
		{pid: 400, ppid: 100, comm: "defunct", state: "Z", startTicks: 800},
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
}

func TestScanFakeRoot(t *testing.T) {
	c, root := newTestCache(t, newFakeClock(), Options{})
	layoutFakeRoot(t, root)

	n, err := c.Scan()
	if err != nil {
		t.Fatalf("Scan() error = %v", err)
	}
	if n != 6 {
		t.Errorf("Scan() added %d, want 6", n)
	}

	id := func(ticks uint64, pid uint32) string { return execID("node1", ticks*nsPerTick, pid) }
	tests := []struct {
		name string
		pid  uint32
		want Info
	}{
		{
			name: "init",
			pid:  1,
			want: Info{PID: 1, ExecutablePath: "/usr/lib/systemd/systemd", Args: []string{"/sbin/init", "splash"},
				WorkingDirectory: "/", ExecID: id(10, 1)},
		},
		{
			name: "kernel thread",
			pid:  2,
			want: Info{PID: 2, ExecID: id(10, 2)},
		},
		{
			name: "shell",
			pid:  100,
			want: Info{PID: 100, PPID: 1, ExecutablePath: "/usr/bin/bash", Args: []string{"-bash"},
				WorkingDirectory: "/home/u", UID: 1000, EUID: 1000, ExecID: id(500, 100),
				ParentExecID: id(10, 1), ParentExecutablePath: "/usr/lib/systemd/systemd"},
		},
		{
			name: "comm with spaces and parenthesis, deleted exe",
			pid:  200,
			want: Info{PID: 200, PPID: 100, ExecutablePath: "/opt/tool", Args: []string{"./tool", "--flag"},
				WorkingDirectory: "/opt", UID: 1000, EUID: 0, ExecID: id(600, 200),
				ParentExecID: id(500, 100), ParentExecutablePath: "/usr/bin/bash"},
		},
		{
			name: "unreadable exe falls back to argv[0]",
			pid:  300,
			want: Info{PID: 300, PPID: 1, ExecutablePath: "nginx: worker process", Args: []string{"nginx: worker process"},
				UID: 33, EUID: 33, ExecID: id(700, 300),
				ParentExecID: id(10, 1), ParentExecutablePath: "/usr/lib/systemd/systemd"},
		},
		{
			name: "zombie is kept as exited",
			pid:  400,
			want: Info{PID: 400, PPID: 100, ExecID: id(800, 400), Exited: true,
				ParentExecID: id(500, 100), ParentExecutablePath: "/usr/bin/bash"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustLookup(t, c, tt.pid)
			ticks := map[uint32]uint64{1: 10, 2: 10, 100: 500, 200: 600, 300: 700, 400: 800}[tt.pid]
			tt.want.StartTime = c.WallTime(ticks * nsPerTick)
			assertInfo(t, got, tt.want)
		})
	}

	if _, ok := c.Lookup(999); ok {
		t.Error("Lookup(999) found a vanished process")
	}
	st := c.Stats()
	if st.Live != 5 || st.Exited != 1 {
		t.Errorf("Stats() = %+v, want 5 live and 1 exited", st)
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
	c.Exec(10, 1, "/bin/new", []string{"new"}, "/", 0, 0, 1*nsPerTick, 5*nsPerTick)

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
	gotArgs, wantArgs := got.Args, want.Args
	got.Args, want.Args = nil, nil
	if !got.StartTime.Equal(want.StartTime) {
		t.Errorf("StartTime = %v, want %v", got.StartTime, want.StartTime)
	}
	got.StartTime = want.StartTime
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Info mismatch\n got %+v\nwant %+v", got, want)
	}
	if !slices.Equal(gotArgs, wantArgs) {
		t.Errorf("Args = %q, want %q", gotArgs, wantArgs)
	}
}
