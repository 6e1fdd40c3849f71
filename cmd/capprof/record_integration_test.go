//go:build integration

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/testenv"
	"github.com/capprof/capprof/test/collectortest"
)

// recordWhile runs `capprof record args...` for three seconds of recording
// while a non-root dmesg runs at their start, and returns stdout, stderr and
// the dmesg pid. With cg, dmesg runs in it and only it is recorded (see
// recordDuring); without, the host is, and a test keeps dmesg's records
// apart by its pid and by --caps: then dmesg's fork is recorded too, and
// with it its working directory, which a process this short-lived is
// otherwise gone before /proc shows.
func recordWhile(t *testing.T, cg *testenv.Cgroup, args ...string) (string, string, int) {
	t.Helper()
	prereq.RequireCommands(t, "setpriv", "dmesg")
	nobodyDmesg := []string{"--reuid=65534", "--regid=65534", "--clear-groups", "dmesg"}
	cmd := exec.Command("setpriv", nobodyDmesg...)
	if cg != nil {
		cmd = cg.Command("setpriv", nobodyDmesg...)
	}
	stdout, stderr := recordDuring(t, cg, func() { _ = cmd.Run() }, args...)
	return stdout, stderr, cmd.Process.Pid
}

// recordDuring runs `capprof record args...` for three seconds of recording
// and runs work at their start: once the program is attached, however long
// loading takes on a busy machine. With cg, only cg is recorded (--cgroup),
// and work starts its processes in it: other packages' tests check
// capabilities at the same time, fast enough to fill the ring buffer.
func recordDuring(t *testing.T, cg *testenv.Cgroup, work func(), args ...string) (string, string) {
	t.Helper()
	prereq.RequireRoot(t)
	if cg != nil {
		args = append([]string{"--cgroup", cg.Rel}, args...)
	}
	var stdout, stderr collectortest.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(append([]string{"record", "--duration", "3s"}, args...), &stdout, &stderr)
	}()
	for !strings.Contains(stderr.String(), "msg=recording ") {
		select {
		case code := <-done:
			t.Fatalf("record exited %d before recording:\n%s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	work()
	if code := <-done; code != 0 {
		t.Fatalf("record exited %d:\n%s", code, stderr.String())
	}
	return stdout.String(), stderr.String()
}

func TestRecordJSONHasTheDeniedSyslogCheck(t *testing.T) {
	out, _, pid := recordWhile(t, nil, "--format", "json", "--caps", "CAP_SYSLOG")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("not a JSON line: %v\n%s", err, sc.Text())
		}
		if rec["linux.capability.name"] != "CAP_SYSLOG" {
			t.Fatalf("--caps CAP_SYSLOG let through %v", rec["linux.capability.name"])
		}
		if rec["process.pid"] != float64(pid) {
			continue
		}
		found = true
		want := map[string]any{
			"event":                          "linux.capability.check",
			"linux.capability.id":            float64(34),
			"linux.capability.verdict":       "denied",
			"linux.capability.audit":         true,
			"linux.capability.foreign_cred":  false,
			"linux.user_namespace.level":     float64(0),
			"linux.user_namespace.is_host":   true,
			"process.executable.path":        "/usr/bin/dmesg",
			"process.executable.name":        "dmesg",
			"process.user.id":                float64(65534),
			"process.real_user.id":           float64(65534),
			"linux.capability.count":         float64(1),
			"process.parent.executable.path": self, // setpriv execs dmesg in its own pid
		}
		for k, v := range want {
			if rec[k] != v {
				t.Errorf("%s = %v, want %v", k, rec[k], v)
			}
		}
		for _, k := range []string{"time", "host.name", "linux.syscall.name", "linux.syscall.id", "thread.id",
			"process.parent_pid", "process.command_args", "process.working_directory", "process.creation.time",
			"process.exec_id", "process.parent.exec_id", "linux.user_namespace.inode", "linux.capability.effective",
			// The process's context: the same in every output.
			"process.vpid", "process.login_user.id", "capprof.process.flags", "linux.namespace.mnt.inode",
			"linux.namespace.mnt.is_host", "linux.namespace.user.inode", "process.parent.user.id",
			"process.parent.creation.time", "process.parent.command_args"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("attribute %s missing", k)
			}
		}
	}
	if !found {
		t.Fatalf("no record for dmesg pid %d in:\n%s", pid, out)
	}
}

// TestRecordAuditedDropsNoaudit: dmesg as nobody commits memory (NOAUDIT
// CAP_SYS_ADMIN) and is denied CAP_SYSLOG (audited); only the denial is
// recorded, and the summary counts the skipped checks per capability.
func TestRecordAuditedDropsNoaudit(t *testing.T) {
	out, stderr, pid := recordWhile(t, testenv.NewCgroup(t), "--format", "json", "--audit", "audited")
	sawSyslog := false
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("not a JSON line: %v\n%s", err, sc.Text())
		}
		if rec["linux.capability.audit"] == false {
			t.Errorf("NOAUDIT check recorded: %s", sc.Text())
		}
		if rec["process.pid"] == float64(pid) && rec["linux.capability.name"] == "CAP_SYSLOG" && rec["linux.capability.verdict"] == "denied" {
			sawSyslog = true
		}
	}
	if !sawSyslog {
		t.Errorf("no denied CAP_SYSLOG record of dmesg pid %d", pid)
	}
	if !regexp.MustCompile(`NOAUDIT checks skipped in the kernel" total=[1-9][0-9]* per_capability=".*CAP_SYS_ADMIN=[1-9]`).MatchString(stderr) {
		t.Errorf("the summary does not count skipped CAP_SYS_ADMIN checks:\n%s", stderr)
	}
}

func TestRecordOTLPJSONToFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "checks.jsonl")
	recordWhile(t, testenv.NewCgroup(t), "--format", "otlp-json", "--verdict", "denied", "--output", path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sawSyslog bool
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var doc struct {
			ResourceLogs []struct {
				ScopeLogs []struct {
					LogRecords []struct {
						EventName      string `json:"eventName"`
						SeverityNumber int    `json:"severityNumber"`
						Attributes     []struct {
							Key   string         `json:"key"`
							Value map[string]any `json:"value"`
						} `json:"attributes"`
					} `json:"logRecords"`
				} `json:"scopeLogs"`
			} `json:"resourceLogs"`
		}
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("not OTLP/JSON: %v\n%s", err, line)
		}
		for _, rl := range doc.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					if lr.EventName != "linux.capability.check" || lr.SeverityNumber != 13 {
						t.Errorf("denied record with event %q severity %d", lr.EventName, lr.SeverityNumber)
					}
					for _, a := range lr.Attributes {
						if a.Key == "linux.capability.name" && a.Value["stringValue"] == "CAP_SYSLOG" {
							sawSyslog = true
						}
					}
				}
			}
		}
	}
	if !sawSyslog {
		t.Errorf("no CAP_SYSLOG record in %s", path)
	}
}

// TestDoctorTellsTheTruth checks doctor's verdicts against what record does:
// the method it picks records a real check, and each method it calls
// unusable makes `record --attach` fail.
func TestDoctorTellsTheTruth(t *testing.T) {
	prereq.RequireRoot(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"doctor"}, &stdout, &stderr); code != 0 {
		t.Fatalf("doctor exited %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	var chosen string
	var unusable []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "attach" && f[2] == "no":
			unusable = append(unusable, f[1])
		case strings.HasPrefix(line, "record would use: "):
			chosen = strings.TrimPrefix(line, "record would use: ")
		}
	}
	if chosen == "" {
		t.Fatalf("doctor named no method:\n%s", out)
	}
	rec, _, pid := recordWhile(t, nil, "--format", "json", "--attach", chosen, "--caps", "CAP_SYSLOG")
	if !strings.Contains(rec, fmt.Sprintf(`"process.pid":%d,`, pid)) {
		t.Errorf("record --attach %s saw no check of dmesg pid %d", chosen, pid)
	}
	for _, m := range unusable {
		var o, e bytes.Buffer
		if code := run([]string{"record", "--attach", m, "--duration", "1s"}, &o, &e); code != exitFailure {
			t.Errorf("doctor says %s is unusable, but record --attach %s exited %d", m, m, code)
		}
	}
	t.Logf("doctor:\n%s", out)
}

// TestRecordThenProfile answers both questions for a real recording: what
// chown needs (CHOWN) and what dmesg as nobody attempted (SYSLOG, denied).
func TestRecordThenProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "checks.jsonl")
	owned := filepath.Join(t.TempDir(), "owned")
	if err := os.WriteFile(owned, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(owned, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	cg := testenv.NewCgroup(t)
	recordDuring(t, cg, func() {
		_ = cg.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "dmesg").Run()
		if out, err := cg.Command("chown", "0:0", owned).CombinedOutput(); err != nil {
			t.Errorf("chown: %v\n%s", err, out)
		}
	}, "--format", "otlp-json", "--output", path)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"profile", path}, &stdout, &stderr); code != 0 {
		t.Fatalf("profile exited %d:\n%s", code, stderr.String())
	}
	out := stdout.String()
	chown := section(out, "/usr/bin/chown")
	if !strings.Contains(chown, "drop ALL; add CHOWN") {
		t.Errorf("chown's profile does not advise adding CHOWN:\n%s", chown)
	}
	dmesg := section(out, "/usr/bin/dmesg")
	if !strings.Contains(dmesg, "CAP_SYSLOG") || !strings.Contains(dmesg, "denied-only") || !strings.Contains(dmesg, "drop ALL; add none") {
		t.Errorf("dmesg's profile does not show SYSLOG attempted and denied, nothing added:\n%s", dmesg)
	}
}

// section returns the block of a table-format profile whose key line ends in name.
func section(out, name string) string {
	for _, block := range strings.Split(out, "\n\n") {
		if first, _, _ := strings.Cut(block, "\n"); strings.HasSuffix(first, " "+name) {
			return block + "\n" + blockAfter(out, block)
		}
	}
	return ""
}

// blockAfter returns the table-format block that follows block: a profile
// prints its header, its capability table and its advice as blocks.
func blockAfter(out, block string) string {
	i := strings.Index(out, block)
	rest := out[i+len(block):]
	parts := strings.SplitN(strings.TrimLeft(rest, "\n"), "\n\n", 3)
	return strings.Join(parts[:min(2, len(parts))], "\n\n")
}
