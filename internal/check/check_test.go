package check

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/proc"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const (
	capNetAdmin = 12
	capSysAdmin = 21
	capSyslog   = 34

	testContainerID = "3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a"
	testPodUID      = "0b6d3a4e-9f21-4c8b-a7e5-2d1f0c9b8a76"
)

// base is the check time of every fixture. Times are in a non-UTC zone so
// that the golden file also shows the conversion to UTC.
var base = time.Date(2025, 3, 14, 10, 26, 53, 589793000, time.FixedZone("CET", 3600))

// fixtures are the representative checks, in golden-file order.
var fixtures = []struct {
	name string
	chk  Check
}{
	{
		name: "host check with full process info",
		chk: Check{
			Time:        base,
			Cap:         capSysAdmin,
			Denied:      true,
			Audit:       Audited,
			Effective:   caps.Set(0).With(capNetAdmin).With(13),
			UID:         1000,
			EUID:        1001,
			Count:       1,
			UserNS:      UserNamespace{Level: 0, Inode: 4026531837, IsHost: true},
			Syscall:     165,
			SyscallName: "mount",
			PID:         4242,
			TID:         4243,
			CgroupID:    9876,
			CgroupPath:  "/user.slice/user-1000.slice/session-3.scope",
			Process:     proc.Info{PID: 4242, PPID: 4100, ExecutablePath: "/usr/bin/mount", Args: []string{"mount", "-t", "tmpfs", "a \"b\" & c", "/mnt"}, WorkingDirectory: "/home/user", UID: 1000, EUID: 1001, StartTime: base.Add(-1500 * time.Millisecond), ExecID: "bm9kZS0xOjEyMzQ1OjQyNDI", ParentExecID: "bm9kZS0xOjEwMDAwOjQxMDA", ParentExecutablePath: "/usr/bin/bash", Context: &proc.Context{Namespaces: hostNamespaces, HostNamespaces: allHost, LoginUID: 1000, VPID: 4242, Flags: proc.FlagExec, Parent: proc.Parent{Args: []string{"-bash"}, WorkingDirectory: "/home/user", UID: 1000, EUID: 1000, LoginUID: 1000, StartTime: base.Add(-time.Hour), Flags: proc.FlagProcFS}}},
			HostName:    "node-1",
		},
	},
	{
		name: "container check with pod uid and runtime",
		chk: Check{
			Time:        base,
			Cap:         capSysAdmin,
			Audit:       NotAudited,
			ForeignCred: true,
			Effective:   caps.Set(0).With(capSysAdmin),
			Count:       5,
			UserNS:      UserNamespace{Level: 1, Inode: 4026532500, OwnerUID: 100000, OwnerGID: 100001},
			Syscall:     9,
			SyscallName: "mmap",
			PID:         31337,
			TID:         31338,
			CgroupID:    5555,
			CgroupPath:  "/kubepods/besteffort/pod" + testPodUID + "/" + testContainerID,
			Process:     proc.Info{PID: 31337, PPID: 31300, ExecutablePath: "/usr/sbin/nginx", Args: []string{"nginx", "-g", "daemon off;"}, Context: &proc.Context{Namespaces: containerNamespaces, HostNamespaces: proc.NamespaceSet(1<<proc.NSUser | 1<<proc.NSTime | 1<<proc.NSTimeForChildren), LoginUID: proc.UnsetLoginUID, VPID: 7, PIDNamespaceStart: base.Add(-time.Minute), Flags: proc.FlagProcFS}},
			Container:   cgroup.Container{ID: testContainerID, Runtime: cgroup.RuntimeContainerd, PodUID: testPodUID},
			HostName:    "node-1",
		},
	},
	{
		name: "audit unknown",
		chk: Check{
			Time:        base,
			Cap:         capSyslog,
			Denied:      true,
			Audit:       AuditUnknown,
			Count:       1,
			UserNS:      UserNamespace{IsHost: true},
			Syscall:     103,
			SyscallName: "syslog",
			PID:         777,
			TID:         777,
			UID:         65534,
			EUID:        65534,
			Process:     proc.Info{PID: 777, PPID: 1, ExecutablePath: "dmesg"},
			HostName:    "node-1",
		},
	},
	{
		name: "not in a syscall",
		chk: Check{
			Time:     base,
			Cap:      capNetAdmin,
			Audit:    Audited,
			Count:    1,
			UserNS:   UserNamespace{IsHost: true},
			Syscall:  -1,
			PID:      2,
			TID:      2,
			CgroupID: 1,
			Process:  proc.Info{PID: 2},
			HostName: "node-1",
		},
	},
	{
		name: "syscall number without a name",
		chk: Check{
			Time:    base,
			Cap:     capSysAdmin,
			Audit:   Audited,
			Count:   1,
			Syscall: 0,
			PID:     10,
			TID:     10,
		},
	},
	{
		name: "empty process",
		chk: Check{
			Time:      base,
			Cap:       capNetAdmin,
			Audit:     Audited,
			Count:     3,
			UserNS:    UserNamespace{Level: 1, Inode: 4026532500, OwnerUID: 100000, OwnerGID: 100000},
			Syscall:   -1,
			PID:       31400,
			TID:       31401,
			UID:       0,
			EUID:      0,
			CgroupID:  5555,
			Container: cgroup.Container{ID: testContainerID},
			HostName:  "node-1",
		},
	},
	{
		name: "container check with kubernetes metadata, by the runtime's setup",
		chk: Check{
			Time:         base,
			Cap:          capSysAdmin,
			Audit:        Audited,
			Count:        1,
			UserNS:       UserNamespace{IsHost: true},
			Syscall:      165,
			SyscallName:  "mount",
			PID:          777,
			TID:          777,
			CgroupID:     4321,
			Process:      proc.Info{PID: 777, ExecutablePath: "/proc/self/exe", Args: []string{"runc", "init"}},
			Container:    cgroup.Container{ID: testContainerID, Runtime: cgroup.RuntimeContainerd, PodUID: testPodUID},
			RuntimeSetup: true,
			Kubernetes: &Kubernetes{
				Namespace: "shop", PodName: "web-7d9f8c6b5-x2x9k", PodUID: testPodUID, NodeName: "node-1",
				ContainerName: "nginx", ImageName: "registry.local:5000/shop/nginx", ImageTag: "1.27",
				ImageID:    "registry.local:5000/shop/nginx@sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac",
				Declared:   &SecurityContext{Add: []string{"NET_BIND_SERVICE", "NET_ADMIN"}, Drop: []string{"ALL"}},
				Deployment: "web", ReplicaSet: "web-7d9f8c6b5",
				Labels: []Label{{Key: "app", Value: "web"}, {Key: "tier", Value: "front"}},
			},
			HostName: "node-1",
		},
	},
	{
		name: "capability beyond the known ones",
		chk: Check{
			Time:      base,
			Cap:       63,
			Effective: caps.Set(0).With(63),
			Count:     1,
			Syscall:   -1,
			PID:       1,
			TID:       1,
		},
	},
}

var (
	hostNamespaces = proc.Namespaces{4026531838, 4026531839, 4026531841, 4026531836, 4026531836,
		4026531840, 4026531834, 4026531834, 4026531835, 4026531837}
	allHost             = proc.NamespaceSet(1<<proc.NumNamespaceKinds - 1)
	containerNamespaces = proc.Namespaces{4026532501, 4026532502, 4026532500, 4026532503, 4026532503,
		4026532505, 4026531834, 4026531834, 4026532506, 4026531837}
)

// fixture returns the check of the named fixture.
func fixture(t *testing.T, name string) Check {
	t.Helper()
	for _, f := range fixtures {
		if f.name == name {
			return f.chk
		}
	}
	t.Fatalf("no fixture %q", name)
	return Check{}
}

// render writes attributes as "key=type:value" lines.
func render(b *bytes.Buffer, attrs []Attr) {
	for _, a := range attrs {
		switch a.Kind {
		case KindString:
			fmt.Fprintf(b, "%s=string:%q\n", a.Key, a.Str)
		case KindInt:
			fmt.Fprintf(b, "%s=int:%d\n", a.Key, a.Int)
		case KindBool:
			fmt.Fprintf(b, "%s=bool:%t\n", a.Key, a.Bool)
		case KindStrings:
			q := make([]string, len(a.Strings))
			for i, s := range a.Strings {
				q[i] = strconv.Quote(s)
			}
			fmt.Fprintf(b, "%s=strings:[%s]\n", a.Key, strings.Join(q, ","))
		default:
			fmt.Fprintf(b, "%s=kind%d:?\n", a.Key, a.Kind)
		}
	}
}

func TestAttributesGolden(t *testing.T) {
	var b bytes.Buffer
	for _, f := range fixtures {
		fmt.Fprintf(&b, "== %s\n", f.name)
		fmt.Fprintf(&b, "body: %s\n", f.chk.Body())
		fmt.Fprintf(&b, "severity: %s (%d)\n", f.chk.Severity(), f.chk.Severity())
		b.WriteString("-- resource\n")
		render(&b, f.chk.Resource())
		b.WriteString("-- attributes\n")
		render(&b, f.chk.Attributes())
		b.WriteString("\n")
	}
	golden(t, "attributes.golden", b.Bytes())
}

func keys(attrs []Attr) []string {
	out := make([]string, len(attrs))
	for i, a := range attrs {
		out[i] = a.Key
	}
	return out
}

func find(attrs []Attr, key string) (Attr, bool) {
	for _, a := range attrs {
		if a.Key == key {
			return a, true
		}
	}
	return Attr{}, false
}

// TestAttributesPresence states the omission rules the golden file shows,
// so that a regenerated golden file cannot silently break them.
func TestAttributesPresence(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		present []string
		absent  []string
		// onlyProcess, when set, is the exact list of process.* keys.
		onlyProcess []string
	}{
		{
			name:    "audited check carries the audit flag",
			fixture: "host check with full process info",
			present: []string{AttrAudit, AttrSyscallID, AttrSyscallName, AttrParentPID, AttrExePath, AttrExeName,
				AttrCommandArgs, AttrWorkingDir, AttrCreationTime, AttrExecID, AttrParentExecID, AttrParentExePath, AttrCgroupPath,
				AttrVPID, AttrLoginUID, AttrProcessFlags, NamespaceInodeKey(proc.NSTime), NamespaceIsHostKey(proc.NSUser),
				AttrParentUserID, AttrParentRealUID, AttrParentLogin, AttrParentWorkDir, AttrParentArgs, AttrParentCreated,
				AttrParentFlags},
			// A host process has no container to have started.
			absent: []string{AttrContainerTime},
		},
		{
			name:    "a container's process carries its container's start; no parent, no parent details",
			fixture: "container check with pod uid and runtime",
			present: []string{AttrContainerTime, AttrVPID, AttrLoginUID, NamespaceInodeKey(proc.NSPID)},
			absent:  []string{AttrParentUserID, AttrParentRealUID, AttrParentLogin, AttrParentArgs, AttrParentCreated},
		},
		{
			name:    "audit unknown omits the audit flag",
			fixture: "audit unknown",
			present: []string{AttrSyscallID, AttrSyscallName},
			absent:  []string{AttrAudit},
		},
		{
			name:    "syscall -1 omits the syscall attributes",
			fixture: "not in a syscall",
			present: []string{AttrAudit},
			absent:  []string{AttrSyscallID, AttrSyscallName},
		},
		{
			name:    "syscall without a name keeps the number only",
			fixture: "syscall number without a name",
			present: []string{AttrSyscallID},
			absent:  []string{AttrSyscallName, AttrCgroupPath},
		},
		{
			name:    "empty process keeps only ids",
			fixture: "empty process",
			absent: []string{AttrCgroupPath, AttrSyscallID, AttrProcessFlags, AttrContainerTime,
				NamespaceInodeKey(proc.NSMnt), NamespaceIsHostKey(proc.NSMnt)},
			onlyProcess: []string{AttrPID, AttrUserID, AttrRealUserID},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chk := fixture(t, tt.fixture)
			// A record says what its resource and its own attributes say.
			attrs := append(chk.Resource(), chk.Attributes()...)
			for _, k := range tt.present {
				if _, ok := find(attrs, k); !ok {
					t.Errorf("attribute %s missing from %v", k, keys(attrs))
				}
			}
			for _, k := range tt.absent {
				if a, ok := find(attrs, k); ok {
					t.Errorf("attribute %s present (%v), want it absent", k, a.Value())
				}
			}
			if tt.onlyProcess != nil {
				var got []string
				for _, k := range keys(attrs) {
					if strings.HasPrefix(k, "process.") {
						got = append(got, k)
					}
				}
				if !slices.Equal(got, tt.onlyProcess) {
					t.Errorf("process attributes = %v, want %v", got, tt.onlyProcess)
				}
			}
			// Whatever the check, the always-present attributes are there.
			for _, k := range []string{AttrCapName, AttrCapID, AttrVerdict, AttrForeignCred, AttrEffective, AttrCount,
				AttrNSLevel, AttrNSInode, AttrNSOwnerUID, AttrNSOwnerGID, AttrNSIsHost, AttrPID, AttrTID,
				AttrUserID, AttrRealUserID, AttrCgroupID} {
				if _, ok := find(attrs, k); !ok {
					t.Errorf("always-present attribute %s missing", k)
				}
			}
			seen := map[string]bool{}
			for _, k := range keys(attrs) {
				if seen[k] {
					t.Errorf("attribute %s appears twice", k)
				}
				seen[k] = true
			}
		})
	}
}

func TestAttributesAuditValue(t *testing.T) {
	tests := []struct {
		name    string
		audit   Audit
		want    bool
		present bool
	}{
		{name: "unknown", audit: AuditUnknown, present: false},
		{name: "audited", audit: Audited, want: true, present: true},
		{name: "not audited", audit: NotAudited, want: false, present: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Check{Audit: tt.audit, Syscall: -1}
			a, ok := find(c.Attributes(), AttrAudit)
			if ok != tt.present {
				t.Fatalf("audit attribute present = %v, want %v", ok, tt.present)
			}
			if ok && (a.Kind != KindBool || a.Bool != tt.want) {
				t.Errorf("audit attribute = %+v, want bool %v", a, tt.want)
			}
		})
	}
}

func TestResource(t *testing.T) {
	tests := []struct {
		name string
		chk  Check
		want []Attr
	}{
		{
			name: "host",
			chk:  Check{HostName: "node-1"},
			want: []Attr{{Key: AttrHostName, Kind: KindString, Str: "node-1"}},
		},
		{
			name: "container in a pod",
			chk: Check{HostName: "node-1", Container: cgroup.Container{
				ID: testContainerID, Runtime: cgroup.RuntimeCRIO, PodUID: testPodUID}},
			want: []Attr{
				{Key: AttrHostName, Kind: KindString, Str: "node-1"},
				{Key: AttrContainerID, Kind: KindString, Str: testContainerID},
				{Key: AttrContainerRuntime, Kind: KindString, Str: cgroup.RuntimeCRIO},
				{Key: AttrPodUID, Kind: KindString, Str: testPodUID},
			},
		},
		{
			name: "container of unknown runtime",
			chk:  Check{Container: cgroup.Container{ID: testContainerID}},
			want: []Attr{{Key: AttrContainerID, Kind: KindString, Str: testContainerID}},
		},
		{
			name: "nothing known",
			chk:  Check{},
			want: []Attr{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The process and its user namespace follow the container
			// (all zero here).
			want := tt.chk.appendUserNamespace(tt.chk.appendProcess(tt.want))
			got := tt.chk.Resource()
			if !slices.EqualFunc(got, want, func(a, b Attr) bool {
				return a.Key == b.Key && a.Kind == b.Kind && a.Str == b.Str
			}) {
				t.Errorf("Resource() = %+v, want %+v", got, want)
			}
		})
	}
}

func TestResourceKey(t *testing.T) {
	ctr := func(id, runtime, pod string) cgroup.Container {
		return cgroup.Container{ID: id, Runtime: runtime, PodUID: pod}
	}
	tests := []struct {
		name string
		a, b Check
		same bool
	}{
		{
			name: "same host process, other checks",
			a:    Check{HostName: "node-1", PID: 1, TID: 1, Cap: 1, Process: proc.Info{ExecID: "e1", Args: []string{"a"}}},
			b:    Check{HostName: "node-1", PID: 1, TID: 2, Cap: 2, Denied: true, Process: proc.Info{ExecID: "e1"}},
			same: true,
		},
		{
			name: "same container, different processes",
			a:    Check{HostName: "node-1", PID: 1, Container: ctr("c1", "containerd", "p1")},
			b:    Check{HostName: "node-1", PID: 2, Container: ctr("c1", "containerd", "p1")},
		},
		{
			name: "same pid after exec",
			a:    Check{HostName: "node-1", PID: 1, Process: proc.Info{ExecID: "e1"}},
			b:    Check{HostName: "node-1", PID: 1, Process: proc.Info{ExecID: "e2"}},
		},
		{
			name: "same unknown pid, other executable",
			a:    Check{HostName: "node-1", PID: 1, Process: proc.Info{ExecutablePath: "/bin/a"}},
			b:    Check{HostName: "node-1", PID: 1, Process: proc.Info{ExecutablePath: "/bin/b"}},
		},
		{
			name: "same process, other credentials",
			a:    Check{HostName: "node-1", PID: 1, EUID: 0},
			b:    Check{HostName: "node-1", PID: 1, EUID: 65534},
		},
		{
			name: "same process, other user namespace",
			a:    Check{HostName: "node-1", PID: 1, UserNS: UserNamespace{Inode: 4026531837, IsHost: true}},
			b:    Check{HostName: "node-1", PID: 1, UserNS: UserNamespace{Level: 1, Inode: 4026532000, OwnerUID: 1000}},
		},
		{
			name: "same process, other effective set",
			a:    Check{HostName: "node-1", PID: 1, Effective: caps.Set(0).With(1)},
			b:    Check{HostName: "node-1", PID: 1},
		},
		{
			name: "same process, other cgroup",
			a:    Check{HostName: "node-1", PID: 1, CgroupID: 7},
			b:    Check{HostName: "node-1", PID: 1, CgroupID: 8},
		},
		{
			name: "different hosts",
			a:    Check{HostName: "node-1"},
			b:    Check{HostName: "node-2"},
		},
		{
			name: "host and container",
			a:    Check{HostName: "node-1"},
			b:    Check{HostName: "node-1", Container: ctr("c1", "", "")},
		},
		{
			name: "different containers",
			a:    Check{HostName: "node-1", Container: ctr("c1", "", "")},
			b:    Check{HostName: "node-1", Container: ctr("c2", "", "")},
		},
		{
			name: "same container id in different pods",
			a:    Check{HostName: "node-1", Container: ctr("c1", "", "p1")},
			b:    Check{HostName: "node-1", Container: ctr("c1", "", "p2")},
		},
		{
			name: "pod without container and container without pod",
			a:    Check{HostName: "node-1", Container: ctr("", "", "x")},
			b:    Check{HostName: "node-1", Container: ctr("x", "", "")},
		},
		{
			name: "same container before and after its pod metadata",
			a:    Check{HostName: "node-1", Container: ctr("c1", "", "p1")},
			b:    Check{HostName: "node-1", Container: ctr("c1", "", "p1"), Kubernetes: &Kubernetes{PodName: "web"}},
		},
		{
			name: "host name and container id do not run together",
			a:    Check{HostName: "ab", Container: ctr("c", "", "")},
			b:    Check{HostName: "a", Container: ctr("bc", "", "")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := tt.a.ResourceKey(), tt.b.ResourceKey()
			if (ka == kb) != tt.same {
				t.Errorf("ResourceKey %+v vs %+v: same = %v, want %v", ka, kb, ka == kb, tt.same)
			}
		})
	}
}

func TestBodySeverityVerdict(t *testing.T) {
	tests := []struct {
		name         string
		chk          Check
		wantBody     string
		wantVerdict  string
		wantSeverity Severity
		wantSevText  string
	}{
		{
			name:         "denied with executable",
			chk:          Check{Cap: capSyslog, Denied: true, PID: 7, Process: proc.Info{ExecutablePath: "/usr/bin/dmesg"}},
			wantBody:     "CAP_SYSLOG denied to /usr/bin/dmesg",
			wantVerdict:  "denied",
			wantSeverity: SeverityWarn,
			wantSevText:  "WARN",
		},
		{
			name:         "granted with executable",
			chk:          Check{Cap: capSysAdmin, PID: 7, Process: proc.Info{ExecutablePath: "/usr/bin/mount"}},
			wantBody:     "CAP_SYS_ADMIN granted to /usr/bin/mount",
			wantVerdict:  "granted",
			wantSeverity: SeverityInfo,
			wantSevText:  "INFO",
		},
		{
			name:         "unknown process falls back to the pid",
			chk:          Check{Cap: capNetAdmin, Denied: true, PID: 31400},
			wantBody:     "CAP_NET_ADMIN denied to pid 31400",
			wantVerdict:  "denied",
			wantSeverity: SeverityWarn,
			wantSevText:  "WARN",
		},
		{
			name:         "unknown capability number",
			chk:          Check{Cap: 63, PID: 1},
			wantBody:     "CAP_63 granted to pid 1",
			wantVerdict:  "granted",
			wantSeverity: SeverityInfo,
			wantSevText:  "INFO",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.chk.Body(); got != tt.wantBody {
				t.Errorf("Body() = %q, want %q", got, tt.wantBody)
			}
			if got := tt.chk.Verdict(); got != tt.wantVerdict {
				t.Errorf("Verdict() = %q, want %q", got, tt.wantVerdict)
			}
			if got := tt.chk.Severity(); got != tt.wantSeverity {
				t.Errorf("Severity() = %d, want %d", got, tt.wantSeverity)
			}
			if got := tt.chk.Severity().String(); got != tt.wantSevText {
				t.Errorf("Severity().String() = %q, want %q", got, tt.wantSevText)
			}
			a, ok := find(tt.chk.Attributes(), AttrVerdict)
			if !ok || a.Str != tt.wantVerdict {
				t.Errorf("verdict attribute = %+v, want %q", a, tt.wantVerdict)
			}
		})
	}
}

func TestAttrValue(t *testing.T) {
	tests := []struct {
		name string
		attr Attr
		want any
	}{
		{name: "string", attr: str("k", "v"), want: "v"},
		{name: "int", attr: integer("k", -3), want: int64(-3)},
		{name: "bool", attr: boolean("k", true), want: true},
		{name: "strings", attr: strs("k", []string{"a", "b"}), want: []string{"a", "b"}},
		{name: "unset kind is a string", attr: Attr{Key: "k", Kind: Kind(99), Str: "s", Int: 1}, want: "s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.attr.Value()
			if fmt.Sprintf("%T %#v", got, got) != fmt.Sprintf("%T %#v", tt.want, tt.want) {
				t.Errorf("Value() = %T %#v, want %T %#v", got, got, tt.want, tt.want)
			}
		})
	}
}

func TestBaseName(t *testing.T) {
	tests := []struct {
		name, path, want string
	}{
		{name: "absolute", path: "/usr/bin/dmesg", want: "dmesg"},
		{name: "relative", path: "bin/dmesg", want: "dmesg"},
		{name: "bare", path: "dmesg", want: "dmesg"},
		{name: "trailing slash", path: "/usr/bin/", want: ""},
		{name: "root", path: "/", want: ""},
		{name: "empty", path: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := baseName(tt.path); got != tt.want {
				t.Errorf("baseName(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestFromAttributesInvertsAttributes reads every fixture check back from
// the values its attributes carry.
func TestFromAttributesInvertsAttributes(t *testing.T) {
	plain := func(attrs []Attr) map[string]any {
		m := make(map[string]any, len(attrs))
		for _, a := range attrs {
			v := a.Value()
			if ss, ok := v.([]string); ok {
				l := make([]any, len(ss))
				for i, s := range ss {
					l[i] = s
				}
				v = l
			}
			m[a.Key] = v
		}
		return m
	}
	for _, f := range fixtures {
		want := f.chk
		if want.Count == 0 {
			want.Count = 1 // a record always stands for at least one check
		}
		got := FromAttributes(plain(want.Attributes()), plain(want.Resource()), want.Time)
		if !reflect.DeepEqual(got.Attributes(), want.Attributes()) || !reflect.DeepEqual(got.Resource(), want.Resource()) {
			t.Errorf("%s: read back\n%+v\nwant\n%+v", f.name, got.Attributes(), want.Attributes())
		}
		// Files written before the process, then the user namespace, moved
		// to the resource carry them on each record: they read back the same.
		for shape, moved := range map[string][]Attr{
			"its process and user namespace": want.appendUserNamespace(want.appendProcess(nil)),
			"its user namespace":             want.appendUserNamespace(nil),
		} {
			old := plain(want.Resource())
			for _, a := range moved {
				delete(old, a.Key)
			}
			got = FromAttributes(plain(append(want.Attributes(), moved...)), old, want.Time)
			if !reflect.DeepEqual(got.Attributes(), want.Attributes()) || !reflect.DeepEqual(got.Resource(), want.Resource()) {
				t.Errorf("%s: read back from a record carrying %s\n%+v\nwant\n%+v", f.name, shape, got.Resource(), want.Resource())
			}
		}
	}
}
