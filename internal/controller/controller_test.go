package controller

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/capprof/capprof/bpf"
	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/config"
	"github.com/capprof/capprof/internal/proc"
	"github.com/capprof/capprof/internal/syscalls"
	"github.com/capprof/capprof/internal/tracer"
)

func TestAbsCgroups(t *testing.T) {
	tests := []struct {
		name  string
		root  string
		paths []string
		want  []string
	}{
		{
			name:  "relative",
			root:  "/sys/fs/cgroup",
			paths: []string{"kubepods/besteffort"},
			want:  []string{"/sys/fs/cgroup/kubepods/besteffort"},
		},
		{
			name:  "relative to the mount with a leading slash",
			root:  "/sys/fs/cgroup",
			paths: []string{"/kubepods"},
			want:  []string{"/sys/fs/cgroup/kubepods"},
		},
		{
			name:  "relative is cleaned",
			root:  "/sys/fs/cgroup",
			paths: []string{"./system.slice//../user.slice/"},
			want:  []string{"/sys/fs/cgroup/user.slice"},
		},
		{
			name:  "absolute inside the root",
			root:  "/sys/fs/cgroup",
			paths: []string{"/sys/fs/cgroup/kubepods/besteffort"},
			want:  []string{"/sys/fs/cgroup/kubepods/besteffort"},
		},
		{
			name:  "the root itself",
			root:  "/sys/fs/cgroup",
			paths: []string{"/sys/fs/cgroup"},
			want:  []string{"/sys/fs/cgroup"},
		},
		{
			name:  "absolute outside the root is taken as relative to it",
			root:  "/sys/fs/cgroup",
			paths: []string{"/home/user"},
			want:  []string{"/sys/fs/cgroup/home/user"},
		},
		{
			name:  "a sibling sharing the root's prefix is outside it",
			root:  "/sys/fs/cgroup",
			paths: []string{"/sys/fs/cgroup2/kubepods"},
			want:  []string{"/sys/fs/cgroup/sys/fs/cgroup2/kubepods"},
		},
		{
			name:  "root's parent is outside it",
			root:  "/sys/fs/cgroup",
			paths: []string{"/sys/fs"},
			want:  []string{"/sys/fs/cgroup/sys/fs"},
		},
		{
			name:  "order and count kept",
			root:  "/sys/fs/cgroup",
			paths: []string{"b", "/sys/fs/cgroup/a", "/c"},
			want:  []string{"/sys/fs/cgroup/b", "/sys/fs/cgroup/a", "/sys/fs/cgroup/c"},
		},
		{
			name:  "root mounted at /",
			root:  "/",
			paths: []string{"/kubepods", "kubepods", "/"},
			want:  []string{"/kubepods", "/kubepods", "/"},
		},
		{
			name:  "unified hierarchy below a hybrid mount",
			root:  "/sys/fs/cgroup/unified",
			paths: []string{"/sys/fs/cgroup/unified/system.slice", "/sys/fs/cgroup/system.slice"},
			want:  []string{"/sys/fs/cgroup/unified/system.slice", "/sys/fs/cgroup/unified/sys/fs/cgroup/system.slice"},
		},
		{
			name:  "none",
			root:  "/sys/fs/cgroup",
			paths: nil,
			want:  []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := absCgroups(tt.root, tt.paths)
			if err != nil {
				t.Fatalf("absCgroups(%q, %q): %v", tt.root, tt.paths, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("absCgroups(%q, %q) = %q, want %q", tt.root, tt.paths, got, tt.want)
			}
			if got == nil {
				t.Errorf("absCgroups returned nil, want an empty slice")
			}
		})
	}
}

func TestAbsCgroupsRejectsEscapes(t *testing.T) {
	for _, p := range []string{"../../etc", "a/../../.."} {
		if got, err := absCgroups("/sys/fs/cgroup", []string{p}); err == nil {
			t.Errorf("absCgroups(%q) = %q, want an error", p, got)
		}
	}
}

func TestDefaultConfigIsValid(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	if cfg.Tracer.Method != tracer.Auto || cfg.FlushInterval != time.Second || cfg.MaxBatch != 512 {
		t.Errorf("DefaultConfig() = %+v", cfg)
	}
}

// TestConfigValidate has a row per rule of a recording's settings (and
// their edges): the shells' tests only check that they rename the field.
func TestConfigValidate(t *testing.T) {
	withKube := func(modify func(*KubernetesConfig)) func(*Config) {
		return func(c *Config) {
			k := DefaultKubernetesConfig("node-1")
			modify(&k)
			c.Kubernetes = &k
		}
	}
	tests := []struct {
		name    string
		modify  func(*Config)
		field   string // the FieldError's; "" = valid
		wantErr string
	}{
		{name: "default", modify: func(*Config) {}},
		{name: "short interval, batch of one", modify: func(c *Config) { c.FlushInterval, c.MaxBatch = time.Millisecond, 1 }},
		{name: "no host name", modify: func(c *Config) { c.HostName = "" }},
		{name: "every method", modify: func(c *Config) { c.Tracer.Method = tracer.Kprobe }},
		{name: "filters at their limit", modify: func(c *Config) {
			c.CgroupInclude = make([]string, tracer.MaxCgroupFilters)
			c.CgroupExclude = make([]string, tracer.MaxCgroupFilters)
		}},
		{name: "largest pid", modify: func(c *Config) { c.PIDTree = 1<<22 - 1 }},
		{name: "smallest ring buffer", modify: func(c *Config) { c.Tracer.RingBufferSize = 4096 }},
		{name: "largest ring buffer", modify: func(c *Config) { c.Tracer.RingBufferSize = 1 << 30 }},
		{name: "kubernetes defaults", modify: withKube(func(*KubernetesConfig) {})},

		{name: "zero flush interval", modify: func(c *Config) { c.FlushInterval = 0 },
			field: "FlushInterval", wantErr: "must be positive, got 0s"},
		{name: "negative flush interval", modify: func(c *Config) { c.FlushInterval = -time.Second },
			field: "FlushInterval", wantErr: "must be positive, got -1s"},
		{name: "zero max batch", modify: func(c *Config) { c.MaxBatch = 0 }, field: "MaxBatch", wantErr: "must be positive, got 0"},
		{name: "negative batch delay", modify: func(c *Config) { c.MaxBatchDelay = -time.Millisecond },
			field: "MaxBatchDelay", wantErr: "must be positive, got -1ms"},
		{name: "too many include cgroups", modify: func(c *Config) { c.CgroupInclude = make([]string, tracer.MaxCgroupFilters+1) },
			field: "CgroupInclude", wantErr: "at most 8 subtrees, got 9"},
		{name: "too many exclude cgroups", modify: func(c *Config) { c.CgroupExclude = make([]string, tracer.MaxCgroupFilters+1) },
			field: "CgroupExclude", wantErr: "at most 8 subtrees, got 9"},
		{name: "not a pid", modify: func(c *Config) { c.PIDTree = 1 << 22 },
			field: "PIDTree", wantErr: "4194304 is not a pid (pids are below 4194304)"},
		{name: "unknown method", modify: func(c *Config) { c.Tracer.Method = "uprobe" },
			field: "Method", wantErr: `"uprobe" is not auto, tp_btf, raw_tracepoint, tracepoint, fexit or kprobe`},
		{name: "zero tracer config", modify: func(c *Config) { c.Tracer = tracer.Config{} },
			field: "Method", wantErr: `"" is not auto, tp_btf, raw_tracepoint, tracepoint, fexit or kprobe`},
		{name: "unknown mode", modify: func(c *Config) { c.Tracer.Mode = 2 }, field: "Mode", wantErr: "0x2 is not stream or unique"},
		{name: "unknown verdict", modify: func(c *Config) { c.Tracer.Verdict = 3 },
			field: "Verdict", wantErr: "0x3 is not all, denied or granted"},
		{name: "ring buffer below a page", modify: func(c *Config) { c.Tracer.RingBufferSize = 2048 },
			field: "RingBufferSize", wantErr: "2048 is not a power of two between 4096 and 1 GiB"},
		{name: "ring buffer a multiple of pages only", modify: func(c *Config) { c.Tracer.RingBufferSize = 3 << 20 },
			field: "RingBufferSize", wantErr: "3145728 is not a power of two between 4096 and 1 GiB"},
		{name: "ring buffer over 1 GiB", modify: func(c *Config) { c.Tracer.RingBufferSize = 1 << 31 },
			field: "RingBufferSize", wantErr: "2147483648 is not a power of two between 4096 and 1 GiB"},
		{name: "negative ring buffer", modify: func(c *Config) { c.Tracer.RingBufferSize = -4096 },
			field: "RingBufferSize", wantErr: "-4096 is not a power of two between 4096 and 1 GiB"},
		{name: "no dedup entries", modify: func(c *Config) { c.Tracer.DedupEntries = 0 },
			field: "DedupEntries", wantErr: "must be positive, got 0"},
		{name: "no max wait", modify: withKube(func(k *KubernetesConfig) { k.MaxWait = 0 }),
			field: "MaxWait", wantErr: "must be positive, got 0s"},
		{name: "no max pending", modify: withKube(func(k *KubernetesConfig) { k.MaxPending = -1 }),
			field: "MaxPending", wantErr: "must be positive, got -1"},
		{name: "the watcher's rules", modify: withKube(func(k *KubernetesConfig) { k.Watch.NodeName = "" }),
			field: "NodeName", wantErr: "required (the pods of which node to watch; NODE_NAME from the downward API in a DaemonSet)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.modify(&cfg)
			err := cfg.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || fe.Err.Error() != tt.wantErr {
				t.Fatalf("Validate() = %v, want a FieldError %s: %s", err, tt.field, tt.wantErr)
			}
		})
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Tracer.Verdict = 9
	c, err := New(cfg)
	if err == nil {
		c.Close()
		t.Fatal("New succeeded with an invalid config")
	}
	if want := "Verdict: 0x9 is not all, denied or granted"; err.Error() != want {
		t.Errorf("New = %v, want %q", err, want)
	}
}

func inode(t testing.TB, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// The program's enum ns_kind and proc's NamespaceKind index the same
// arrays: taskContext converts one into the other as is.
func TestNamespaceKindsMatchTheProgram(t *testing.T) {
	for _, k := range []struct {
		c   bpf.CapprofNsKind
		go_ proc.NamespaceKind
	}{
		{bpf.CapprofNsKindNS_UTS, proc.NSUTS}, {bpf.CapprofNsKindNS_IPC, proc.NSIPC},
		{bpf.CapprofNsKindNS_MNT, proc.NSMnt}, {bpf.CapprofNsKindNS_PID, proc.NSPID},
		{bpf.CapprofNsKindNS_PID_FOR_CHILDREN, proc.NSPIDForChildren}, {bpf.CapprofNsKindNS_NET, proc.NSNet},
		{bpf.CapprofNsKindNS_TIME, proc.NSTime}, {bpf.CapprofNsKindNS_TIME_FOR_CHILDREN, proc.NSTimeForChildren},
		{bpf.CapprofNsKindNS_CGROUP, proc.NSCgroup}, {bpf.CapprofNsKindNS_USER, proc.NSUser},
		{bpf.CapprofNsKindNS_KINDS, proc.NumNamespaceKinds},
	} {
		if uint32(k.c) != uint32(k.go_) {
			t.Errorf("%s: the program's kind %d, proc's %d", k.go_, k.c, k.go_)
		}
	}
}

func TestKeyOf(t *testing.T) {
	tests := []struct {
		name string
		ev   bpf.CapprofCheckEvent
		want bpf.CapprofDedupKey
	}{
		{
			name: "key fields are copied",
			ev: bpf.CapprofCheckEvent{
				Cap: 34, Denied: 1, Pid: 4242, Tid: 4243, Uid: 65534, NsLevel: 2, NsInum: 4026531837,
				Syscall: 103, CgroupId: 5555, Effective: 1 << 21, ExeIno: 1234567, ExeDev: 0x800001, TimeNs: 99,
			},
			want: bpf.CapprofDedupKey{CgroupId: 5555, ExeIno: 1234567, ExeDev: 0x800001, Syscall: 103, NsLevel: 2, Cap: 34, Denied: 1},
		},
		{
			name: "the key's audit is the one before classification",
			ev: bpf.CapprofCheckEvent{
				Cap: 12, Audit: uint8(bpf.CapprofAuditClassAUDIT_NO), KeyAudit: uint8(bpf.CapprofAuditClassAUDIT_UNKNOWN), Syscall: -1,
			},
			want: bpf.CapprofDedupKey{Cap: 12, Audit: uint8(bpf.CapprofAuditClassAUDIT_UNKNOWN), Syscall: -1},
		},
		{
			name: "audit known from opts",
			ev:   bpf.CapprofCheckEvent{Cap: 12, Audit: 1, KeyAudit: 1, Syscall: 9},
			want: bpf.CapprofDedupKey{Cap: 12, Audit: 1, Syscall: 9},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keyOf(&tt.ev); got != tt.want {
				t.Errorf("keyOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

const (
	testContainerID = "3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a"
	testPodUID      = "0b6d3a4e-9f21-4c8b-a7e5-2d1f0c9b8a76"
)

// testController is a Controller without a kernel side: an empty procfs, a
// cgroup tree in a temporary directory, and an unloaded tracer (stream mode).
type testController struct {
	*Controller
	containerCgroup   uint64 // id of a CRI-O container's cgroup
	containerCgroupAt string // its path relative to the root
}

func newTestController(t testing.TB) *testController {
	t.Helper()
	cgRoot := t.TempDir()
	rel := "/kubepods/burstable/pod" + testPodUID + "/crio-" + testContainerID + ".scope"
	if err := os.MkdirAll(filepath.Join(cgRoot, rel), 0o755); err != nil {
		t.Fatal(err)
	}
	resolver, err := cgroup.NewResolver(cgroup.Options{Root: cgRoot})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.HostName = "node-1"
	return &testController{
		Controller: &Controller{
			cfg:     cfg,
			log:     slog.New(slog.DiscardHandler),
			tracer:  &tracer.Tracer{},
			procs:   proc.NewCache(proc.Options{Node: cfg.HostName, ProcRoot: t.TempDir()}),
			cgroups: resolver,
			unique:  newUniqueTable(),
		},
		containerCgroup:   inode(t, filepath.Join(cgRoot, rel)),
		containerCgroupAt: rel,
	}
}

func syscallNr(t *testing.T, name string) int32 {
	t.Helper()
	nr, ok := syscalls.Number(syscalls.Native(), name)
	if !ok {
		t.Fatalf("no syscall %s on this architecture", name)
	}
	return int32(nr)
}

// TestHandle feeds process events and checks, as Run does, and checks the
// checks are attributed to the process and container.
func TestHandle(t *testing.T) {
	c := newTestController(t)
	syslogNr := syscallNr(t, "syslog")

	exec := &bpf.CapprofExecEvent{Pid: 4242, Ppid: 4100, Uid: 65534, Euid: 65534, StartNs: 1_000_000, TimeNs: 2_000_000}
	name, args := "/usr/bin/dmesg", "dmesg\x00-T\x00"
	for i := range name {
		exec.Filename[i] = int8(name[i])
	}
	for i := range args {
		exec.Args[i] = int8(args[i])
	}
	exec.ArgsLen = uint32(len(args))

	events := []tracer.Event{
		{Fork: &bpf.CapprofForkEvent{ParentPid: 4100, ChildPid: 4242, StartNs: 1_000_000}},
		{Exec: exec},
		{Check: &bpf.CapprofCheckEvent{
			Cap: 34, Denied: 1, Audit: uint8(check.Audited), Pid: 4242, Tid: 4243, Uid: 65534, Euid: 65534,
			NsLevel: 0, NsInum: 4026531837, NsIsHost: 1, Syscall: syslogNr, CgroupId: c.containerCgroup,
			Effective: 0, TimeNs: 3_000_000,
		}},
		{Exit: &bpf.CapprofExitEvent{Pid: 4242, TimeNs: 4_000_000, ExitCode: 3 << 8}},
		{Check: &bpf.CapprofCheckEvent{
			Cap: 21, Audit: uint8(check.NotAudited), ForeignCred: 1, Pid: 999, Tid: 999, NsLevel: 1, NsInum: 4026532500,
			NsOwnerUid: 100000, NsOwnerGid: 100001, Syscall: -1, CgroupId: 1 << 40, Effective: 1 << 21, TimeNs: 5_000_000,
		}},
	}
	exits := &exitCollector{}
	c.exits = exits
	for _, ev := range events {
		c.handle(ev)
	}

	if got := c.Stats().Events; got != uint64(len(events)) {
		t.Errorf("Stats().Events = %d, want %d", got, len(events))
	}
	if len(c.batch) != 2 {
		t.Fatalf("batch has %d checks, want 2", len(c.batch))
	}
	if len(exits.exits) != 1 {
		t.Fatalf("%d exits, want 1", len(exits.exits))
	}
	if e := exits.exits[0]; e.Process.PID != 4242 || e.Process.ExecutablePath != "/usr/bin/dmesg" || !e.Status.Exited() || e.Status.ExitStatus() != 3 {
		t.Errorf("exit %+v, want dmesg's, exit status 3", e)
	}

	tests := []struct {
		name  string
		got   check.Check
		want  check.Check
		match func(got, want check.Check) bool
	}{
		{
			name: "check of a known process in a container",
			got:  c.batch[0],
			want: check.Check{
				Time: c.procs.WallTime(3_000_000), Cap: 34, Denied: true, Audit: check.Audited,
				UID: 65534, EUID: 65534, Count: 1,
				UserNS:  check.UserNamespace{Inode: 4026531837, IsHost: true},
				Syscall: int(syslogNr), SyscallName: "syslog", PID: 4242, TID: 4243,
				CgroupID: c.containerCgroup, CgroupPath: c.containerCgroupAt,
				Process: proc.Info{PID: 4242, PPID: 4100, ExecutablePath: "/usr/bin/dmesg",
					Args: []string{"dmesg", "-T"}, UID: 65534, EUID: 65534},
				Container: cgroup.Container{ID: testContainerID, Runtime: cgroup.RuntimeCRIO, PodUID: testPodUID},
				HostName:  "node-1",
			},
		},
		{
			name: "check of an unknown process in a removed cgroup",
			got:  c.batch[1],
			want: check.Check{
				Time: c.procs.WallTime(5_000_000), Cap: 21, Audit: check.NotAudited, ForeignCred: true,
				Effective: caps.Set(0).With(21), Count: 1,
				UserNS:  check.UserNamespace{Level: 1, Inode: 4026532500, OwnerUID: 100000, OwnerGID: 100001},
				Syscall: -1, PID: 999, TID: 999, CgroupID: 1 << 40, HostName: "node-1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertCheck(t, tt.got, tt.want)
		})
	}
}

// assertCheck compares checks; of the process it compares what the events
// determine (ExecIDs and start times are the proc package's business).
// exitCollector is an ExitSink keeping the exits.
type exitCollector struct{ exits []Exit }

func (*exitCollector) Write([]check.Check) error { return nil }
func (e *exitCollector) Exited(x Exit)           { e.exits = append(e.exits, x) }

func assertCheck(t *testing.T, got, want check.Check) {
	t.Helper()
	gp, wp := got.Process, want.Process
	got.Process, want.Process = proc.Info{}, proc.Info{}
	if !got.Time.Equal(want.Time) {
		t.Errorf("Time = %v, want %v", got.Time, want.Time)
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	if !equalChecks(got, want) {
		t.Errorf("check:\n got %+v\nwant %+v", got, want)
	}
	if gp.PID != wp.PID || gp.PPID != wp.PPID || gp.ExecutablePath != wp.ExecutablePath ||
		!slices.Equal(gp.Args, wp.Args) || gp.UID != wp.UID || gp.EUID != wp.EUID {
		t.Errorf("process:\n got %+v\nwant %+v", gp, wp)
	}
	if wp.ExecutablePath != "" && gp.ExecID == "" {
		t.Errorf("known process has no ExecID")
	}
}

func equalChecks(a, b check.Check) bool {
	// No slices are left once Process is cleared.
	type flat struct {
		Cap, Syscall                  int
		Denied, ForeignCred           bool
		Audit                         check.Audit
		Effective                     caps.Set
		UID, EUID, PID, TID           uint32
		Count, CgroupID               uint64
		UserNS                        check.UserNamespace
		SyscallName, CgroupPath, Host string
		Container                     cgroup.Container
	}
	f := func(c check.Check) flat {
		return flat{c.Cap, c.Syscall, c.Denied, c.ForeignCred, c.Audit, c.Effective, c.UID, c.EUID, c.PID, c.TID,
			c.Count, c.CgroupID, c.UserNS, c.SyscallName, c.CgroupPath, c.HostName, c.Container}
	}
	return f(a) == f(b)
}

func TestCheckOfKey(t *testing.T) {
	c := newTestController(t)
	readNr := syscallNr(t, "read")
	tests := []struct {
		name  string
		key   bpf.CapprofDedupKey
		value bpf.CapprofDedupValue
		want  check.Check
	}{
		{
			name:  "audit from the key",
			key:   bpf.CapprofDedupKey{Cap: 34, Denied: 1, Audit: uint8(check.Audited), Syscall: readNr, CgroupId: c.containerCgroup},
			value: bpf.CapprofDedupValue{Count: 9, Audit: uint8(check.NotAudited)},
			want: check.Check{
				Cap: 34, Denied: true, Audit: check.Audited, UserNS: check.UserNamespace{IsHost: true},
				Syscall: int(readNr), SyscallName: "read", CgroupID: c.containerCgroup, CgroupPath: c.containerCgroupAt,
				Container: cgroup.Container{ID: testContainerID, Runtime: cgroup.RuntimeCRIO, PodUID: testPodUID},
				HostName:  "node-1",
			},
		},
		{
			name:  "audit classified in the kernel when the key has none",
			key:   bpf.CapprofDedupKey{Cap: 12, NsLevel: 2, Syscall: -1, CgroupId: 1 << 40},
			value: bpf.CapprofDedupValue{Count: 3, Audit: uint8(check.NotAudited)},
			want: check.Check{
				Cap: 12, Audit: check.NotAudited, UserNS: check.UserNamespace{Level: 2},
				Syscall: -1, CgroupID: 1 << 40, HostName: "node-1",
			},
		},
		{
			name:  "audit unknown to both",
			key:   bpf.CapprofDedupKey{Cap: 12, Syscall: -1},
			value: bpf.CapprofDedupValue{Count: 1},
			want: check.Check{
				Cap: 12, Audit: check.AuditUnknown, UserNS: check.UserNamespace{IsHost: true},
				Syscall: -1, HostName: "node-1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.checkOfKey(tt.key, tt.value)
			assertCheck(t, got, tt.want)
			if got.Count != 0 {
				t.Errorf("Count = %d, want 0 (flushUnique sets it)", got.Count)
			}
		})
	}
}
