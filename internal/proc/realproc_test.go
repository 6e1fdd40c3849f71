package proc

import (
	"github.com/capprof/capprof/internal/prereq"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestRealProc checks Scan and the Lookup miss path against the running
// system's /proc.
func TestRealProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		prereq.Missing(t, "procfs: %v", err)
	}
	c := NewCache(Options{Node: "test"})
	n, err := c.Scan()
	if err != nil {
		t.Fatalf("Scan() error = %v", err)
	}
	if n == 0 {
		t.Fatal("Scan() added no processes")
	}

	self := mustLookup(t, c, uint32(os.Getpid()))
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if self.ExecutablePath != exe {
		t.Errorf("ExecutablePath = %q, want %q", self.ExecutablePath, exe)
	}
	if self.PPID != uint32(os.Getppid()) {
		t.Errorf("PPID = %d, want %d", self.PPID, os.Getppid())
	}
	if self.UID != uint32(os.Getuid()) || self.EUID != uint32(os.Geteuid()) {
		t.Errorf("UID, EUID = %d, %d; want %d, %d", self.UID, self.EUID, os.Getuid(), os.Geteuid())
	}
	if want := capArgs(os.Args); !slices.Equal(self.Args, want) {
		t.Errorf("Args = %q, want %q", self.Args, want)
	}
	if wd, err := os.Getwd(); err == nil && self.WorkingDirectory != wd {
		t.Errorf("WorkingDirectory = %q, want %q", self.WorkingDirectory, wd)
	}
	// This process started a moment ago; tick resolution and the boot-time
	// conversion allow a little slack.
	if now := time.Now(); self.StartTime.After(now.Add(time.Second)) || self.StartTime.Before(now.Add(-time.Hour)) {
		t.Errorf("StartTime = %v, not shortly before now (%v)", self.StartTime, now)
	}
	if self.ExecID == "" {
		t.Error("ExecID is empty")
	}
	if self.Context.VPID == 0 {
		t.Errorf("VPID = 0, want this process's pid in its pid namespace")
	}
	for k := range NumNamespaceKinds {
		// The time links came in Linux 5.6.
		if want, err := nsInode("/proc/self/ns/" + k.String()); err == nil && self.Context.Namespaces[k] != want {
			t.Errorf("Namespaces[%s] = %d, want %d (/proc/self/ns)", k, self.Context.Namespaces[k], want)
		}
	}

	sleepPath, err := exec.LookPath("sleep")
	if err != nil {
		prereq.Missing(t, "a sleep binary: %v", err)
	}
	sleepPath, err = filepath.EvalSymlinks(sleepPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	// Start returns once the exec passed its point of no return (where
	// close-on-exec runs), which is before the kernel lays out the new argv:
	// wait until /proc shows it.
	cmdline := filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "cmdline")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if data, err := os.ReadFile(cmdline); (err == nil && len(data) > 0) || time.Now().After(deadline) {
			break
		}
	}
	before := c.Stats().Misses
	child := mustLookup(t, c, uint32(cmd.Process.Pid))
	if got := c.Stats().Misses; got != before+1 {
		t.Errorf("Misses = %d, want %d: the child should have come through the miss path", got, before+1)
	}
	if child.ExecutablePath != sleepPath {
		t.Errorf("child ExecutablePath = %q, want %q", child.ExecutablePath, sleepPath)
	}
	if !slices.Equal(child.Args, []string{"sleep", "5"}) {
		t.Errorf("child Args = %q, want [sleep 5]", child.Args)
	}
	if child.PPID != uint32(os.Getpid()) || child.ParentExecID != self.ExecID || child.ParentExecutablePath != exe {
		t.Errorf("child parent = %d %q %q, want %d %q %q",
			child.PPID, child.ParentExecID, child.ParentExecutablePath, os.Getpid(), self.ExecID, exe)
	}
	if again := mustLookup(t, c, uint32(cmd.Process.Pid)); again.ExecID != child.ExecID {
		t.Errorf("second Lookup ExecID = %q, want %q", again.ExecID, child.ExecID)
	}
	if got := c.Stats().Misses; got != before+1 {
		t.Errorf("Misses = %d after a hit, want %d", got, before+1)
	}
}
