package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/tracer"
)

const (
	capSysAdmin = 21
	capSyslog   = 34
	nobody      = 65534
)

type scenario struct {
	name string
	run  func(k *checker, m tracer.Method) error
}

// scenariosFor lists what is checked with method m. Auto is checked for
// its choice; the concrete methods with all the scenarios.
func scenariosFor(m tracer.Method) []scenario {
	if m == tracer.Auto {
		// Auto records with the method it picks, which the concrete
		// methods' scenarios already cover: only the choice is its own.
		return []scenario{{"choice", (*checker).choice}}
	}
	return []scenario{
		{"syslog", (*checker).syslog},
		{"granted", (*checker).granted},
		{"noaudit", (*checker).noaudit},
		{"userns", (*checker).userns},
		{"unique", (*checker).unique},
		{"cgroup", (*checker).cgroup},
		// The check program's reads differ by method; the cgroup_mkdir
		// program that learns the path does not.
		{"removed-cgroup", (*checker).removedCgroup},
	}
}

// choice: auto keeps the first method that attaches, which is tp_btf where
// the tracepoint exists (6.14+); before, fexit where the kernel has BPF
// trampolines for kernel functions (x86_64 since 5.5; arm64 only with ftrace
// direct calls, 6.4+), and kprobe elsewhere (Debian's arm64 6.1).
func (k *checker) choice(m tracer.Method) error {
	want := tracer.Kprobe
	switch {
	case k.tracepoint:
		want = tracer.TPBTF
	case k.fexit:
		want = tracer.Fexit
	}
	rec, err := k.start(m, tracer.Stream, pidTree(uint32(os.Getpid())))
	if err != nil {
		return err
	}
	got := rec.ctl.Method()
	if _, _, err := rec.stop(); err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("auto picked %s, want %s (tracepoint present: %v, fexit attaches: %v)", got, want, k.tracepoint, k.fexit)
	}
	fmt.Printf("INFO %s choice: %s\n", m, got)
	return nil
}

// syslog: syslog(SYSLOG_ACTION_READ_ALL) as uid 65534 with dmesg_restrict=1
// is one audited CAP_SYSLOG check, denied (kernel/printk/printk.c,
// check_syslog_permissions).
func (k *checker) syslog(m tracer.Method) error {
	c, checks, err := k.streamOf(m, "syslog", false)
	if err != nil {
		return err
	}
	if err := onlyFrom(checks, c.pid()); err != nil {
		return err
	}
	got := filter(checks, func(c *check.Check) bool { return c.Cap == capSyslog })
	if len(got) != 1 {
		return fmt.Errorf("want 1 CAP_SYSLOG check, got %d among %d records", len(got), len(checks))
	}
	r := &got[0]
	var bad []string
	expect := func(ok bool, what string) {
		if !ok {
			bad = append(bad, what)
		}
	}
	expect(r.Denied, "denied")
	expect(r.Audit == check.Audited, "audited")
	expect(r.UID == nobody && r.EUID == nobody, "uid and euid 65534")
	expect(r.UserNS.Level == 0 && r.UserNS.IsHost, "initial user namespace")
	expect(r.PID == c.pid(), "the child's pid "+strconv.Itoa(int(c.pid())))
	expect(r.Process.ExecutablePath == k.exe, "executable "+k.exe)
	expect(r.SyscallName == "syslog", "syscall syslog")
	expect(r.Effective == 0, "empty effective set")
	expect(!r.ForeignCred, "the task's own credentials")
	if len(bad) > 0 {
		return fmt.Errorf("CAP_SYSLOG record is not %s: %s", strings.Join(bad, ", "), describe(r))
	}
	return nil
}

// granted: the same call as root is a granted CAP_SYSLOG check, and the
// record's effective set is root's: kernel_cap_t is u64 since 6.3 and
// u32[2] before, and CAP_SYSLOG (34) lives in the upper half.
func (k *checker) granted(m tracer.Method) error {
	want, err := effectiveCaps()
	if err != nil {
		return err
	}
	c, checks, err := k.streamOf(m, "syslog", true)
	if err != nil {
		return err
	}
	got := filter(checks, func(r *check.Check) bool { return r.Cap == capSyslog && r.PID == c.pid() })
	if len(got) != 1 {
		return fmt.Errorf("want 1 CAP_SYSLOG check, got %d among %d records", len(got), len(checks))
	}
	r := &got[0]
	if r.Denied || r.Audit != check.Audited || r.UID != 0 || r.Effective != want || r.SyscallName != "syslog" {
		return fmt.Errorf("want a granted, audited check by uid 0 with effective %#x in syslog: %s", uint64(want), describe(r))
	}
	return nil
}

// noaudit: a non-root process's memory commits check CAP_SYS_ADMIN with
// CAP_OPT_NOAUDIT (security/commoncap.c, cap_vm_enough_memory), and so does
// installing a seccomp filter without no_new_privs (ns_capable_noaudit):
// every such record must say so. The tracepoint sees both. fexit and kprobe
// see the seccomp check, but see the memory commits only where the kernel
// did not inline cap_capable into cap_vm_enough_memory (Debian's 6.1 does):
// how many they saw is printed, not required.
func (k *checker) noaudit(m tracer.Method) error {
	c, checks, err := k.streamOf(m, "noaudit", false)
	if err != nil {
		return err
	}
	if err := onlyFrom(checks, c.pid()); err != nil {
		return err
	}
	got := filter(checks, func(r *check.Check) bool { return r.Cap == capSysAdmin })
	inSyscall := map[string]int{}
	for i := range got {
		r := &got[i]
		if !r.Denied || r.Audit != check.NotAudited || r.UID != nobody {
			return fmt.Errorf("%d CAP_SYS_ADMIN records; this one is not a denied NOAUDIT check of uid 65534: %s", len(got), describe(r))
		}
		inSyscall[r.SyscallName]++
	}
	if inSyscall["prctl"] != 1 {
		return fmt.Errorf("want 1 CAP_SYS_ADMIN check in prctl (seccomp), got %d: %s", inSyscall["prctl"], summary(checks))
	}
	if !m.SeesOpts() && inSyscall["mmap"] < k.mmaps {
		return fmt.Errorf("want at least %d CAP_SYS_ADMIN checks in mmap, got %d: %s", k.mmaps, inSyscall["mmap"], summary(checks))
	}
	fmt.Printf("INFO %s noaudit: %d mappings committed; seen: %s\n", m, k.mmaps, summary(checks))
	return nil
}

// userns: checks by the root of a user namespace (level 1, owned by uid
// 65534), against the initial user namespace and against its own.
func (k *checker) userns(m tracer.Method) error {
	c, checks, err := k.streamOf(m, "userns", false)
	if err != nil {
		return err
	}
	got := filter(checks, func(r *check.Check) bool {
		return r.Cap == capSysAdmin && r.PID != c.pid() && (r.SyscallName == "sethostname" || r.SyscallName == "unshare")
	})
	type want struct {
		syscall string
		denied  bool
		level   uint32
	}
	wants := []want{{"sethostname", true, 0}, {"unshare", false, 1}, {"sethostname", false, 1}}
	if len(got) != len(wants) {
		return fmt.Errorf("want %d CAP_SYS_ADMIN checks in sethostname and unshare by the namespace's root, got %d: %s", len(wants), len(got), summary(checks))
	}
	for i, w := range wants {
		r := &got[i]
		if r.SyscallName != w.syscall || r.Denied != w.denied || r.Audit != check.Audited || r.UserNS.Level != w.level ||
			r.UserNS.IsHost != (w.level == 0) || r.UID != nobody || !r.Effective.Has(capSysAdmin) ||
			r.Process.ExecutablePath != k.exe || (w.level == 1 && (r.UserNS.OwnerUID != nobody || r.UserNS.Inode == 0)) {
			return fmt.Errorf("check %d: want CAP_SYS_ADMIN denied=%v in %s against a user namespace of level %d (owner 65534), by uid 65534 holding CAP_SYS_ADMIN: %s",
				i+1, w.denied, w.syscall, w.level, describe(r))
		}
	}
	return nil
}

// unique: stream and unique mode attached at once see the same checks; the
// unique records' counts, summed per (capability, verdict, syscall), must
// equal the stream records.
func (k *checker) unique(m tracer.Method) error {
	c, err := k.startChild("spawn-syslog", false, "-n", strconv.Itoa(k.n))
	if err != nil {
		return err
	}
	f := pidTree(c.pid())
	all, stats, err := k.record(c, k.recorder(m, tracer.Stream, f), k.recorder(m, tracer.Unique, f))
	if err != nil {
		return err
	}
	stream, uniq := all[0], all[1]
	type group struct {
		cap     int
		denied  bool
		syscall string
	}
	want := map[group]uint64{}
	for _, r := range stream {
		want[group{r.Cap, r.Denied, r.SyscallName}] += r.Count
	}
	got := map[group]uint64{}
	for _, r := range uniq {
		got[group{r.Cap, r.Denied, r.SyscallName}] += r.Count
	}
	var diffs []string
	for _, g := range sortedKeys(want, got) {
		if got[g] != want[g] {
			diffs = append(diffs, fmt.Sprintf("%s %v in %s: unique %d, stream %d", caps.Name(g.cap),
				map[bool]string{true: "denied", false: "granted"}[g.denied], g.syscall, got[g], want[g]))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("counts differ: %s", strings.Join(diffs, "; "))
	}
	if n := want[group{capSyslog, true, "syslog"}]; n != uint64(k.n) {
		return fmt.Errorf("stream mode saw %d CAP_SYSLOG checks in syslog, want %d (one per child)", n, k.n)
	}
	// The children started after the recordings: they are known from
	// their exec events.
	pids := map[uint32]bool{}
	for _, r := range filter(stream, func(r *check.Check) bool { return r.Cap == capSyslog }) {
		if r.Process.ExecutablePath != k.exe || r.Process.PPID != c.pid() {
			return fmt.Errorf("CAP_SYSLOG record not attributed to a child %s of %d: %s", k.exe, c.pid(), describe(&r))
		}
		pids[r.PID] = true
	}
	if len(pids) != k.n {
		return fmt.Errorf("CAP_SYSLOG checks from %d processes, want %d", len(pids), k.n)
	}
	// How many records unique mode makes depends on how many flushes the
	// workload spans, so only the checks they stand for are compared.
	if stats[0].Checks != stats[1].Checks {
		return fmt.Errorf("unique: %d records for %d checks; stream: %d records for %d checks",
			stats[1].Records, stats[1].Checks, stats[0].Records, stats[0].Checks)
	}
	fmt.Printf("INFO %s unique: %d checks; stream %d records, unique %d records\n", m, stats[0].Checks, stats[0].Records, stats[1].Records)
	return nil
}

// cgroup: a process in a cgroup laid out like a Kubernetes pod's container
// (cgroupfs driver) is attributed to that container and pod.
func (k *checker) cgroup(m tracer.Method) error {
	uid, id := newUUID(), randomHex(32)
	rel := "/kubepods/besteffort/pod" + uid + "/" + id
	dir, cleanup, err := makeCgroup(rel)
	if err != nil {
		return err
	}
	defer cleanup()
	c, err := k.startChild("syslog", false)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(itoa(c.pid())), 0); err != nil {
		c.kill()
		return fmt.Errorf("move child into %s: %w", rel, err)
	}
	all, _, err := k.record(c, k.recorder(m, tracer.Stream, inCgroup(rel)))
	if err != nil {
		return err
	}
	checks := all[0]
	got := filter(checks, func(r *check.Check) bool { return r.Cap == capSyslog })
	if len(got) != 1 {
		return fmt.Errorf("want 1 CAP_SYSLOG check, got %d among %d records", len(got), len(checks))
	}
	for i := range checks {
		r := &checks[i]
		if r.CgroupPath != rel || r.Container.ID != id || r.Container.PodUID != uid || r.PID != c.pid() {
			return fmt.Errorf("want pid %d in cgroup %s (container %s, pod %s): %s", c.pid(), rel, id, uid, describe(r))
		}
	}
	return nil
}

// removedCgroup: a container that makes its check and is gone, cgroup and
// all, before the recorder reads the check (a Job's, an init container)
// keeps its container: the cgroup_mkdir program reported the cgroup's path
// when it was created. The recording hands nothing over before it stops, so
// every event is processed after the cgroup is removed.
func (k *checker) removedCgroup(m tracer.Method) error {
	uid, id := newUUID(), randomHex(32)
	rel := "/kubepods/besteffort/pod" + uid + "/" + id
	c, err := k.startChild("syslog", false)
	if err != nil {
		return err
	}
	r, err := k.start(m, tracer.Stream, func(cfg *controller.Config) {
		cfg.PIDTree = c.pid()
		cfg.MaxBatchDelay, cfg.FlushInterval = time.Hour, time.Hour
	})
	if err != nil {
		c.kill()
		return err
	}
	released := false
	err = func() error {
		if !r.ctl.LearnsCgroups() {
			return errors.New("the cgroup_mkdir program is not attached")
		}
		dir, cleanup, err := makeCgroup(rel)
		if err != nil {
			return err
		}
		defer cleanup()
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(itoa(c.pid())), 0); err != nil {
			return fmt.Errorf("move child into %s: %w", rel, err)
		}
		err = c.release()
		released = true
		if err != nil {
			return err
		}
		cleanup()
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cgroup %s not removed: %v", rel, err)
		}
		if n := r.ctl.Stats().Events; n != 0 {
			return fmt.Errorf("%d events processed before the cgroup was removed", n)
		}
		return nil
	}()
	if !released {
		c.kill()
	}
	got, _, serr := r.stop()
	if err := errors.Join(err, serr); err != nil {
		return err
	}
	checks := filter(got, func(r *check.Check) bool { return r.Cap == capSyslog })
	if len(checks) != 1 {
		return fmt.Errorf("want 1 CAP_SYSLOG check, got %d among %d records", len(checks), len(got))
	}
	if r := &checks[0]; r.CgroupPath != rel || r.Container.ID != id || r.Container.PodUID != uid {
		return fmt.Errorf("want cgroup %s (container %s, pod %s): %s", rel, id, uid, describe(r))
	}
	return nil
}

// count records one workload with every method in methods attached at
// once, and prints how many checks each saw, in total and per kind.
func (k *checker) count(methods []tracer.Method) error {
	c, err := k.startChild("count", false, "-n", strconv.Itoa(k.countChildren))
	if err != nil {
		return err
	}
	f := pidTree(c.pid())
	starts := make([]func() (*recording, error), len(methods))
	for i, m := range methods {
		starts[i] = k.recorder(m, tracer.Stream, f)
	}
	all, stats, err := k.record(c, starts...)
	if err != nil {
		return err
	}
	type group struct {
		cap     int
		denied  bool
		audit   check.Audit
		syscall string
	}
	counts := make([]map[group]uint64, len(methods))
	totals := make([]string, len(methods))
	for i, checks := range all {
		counts[i] = map[group]uint64{}
		for _, r := range checks {
			counts[i][group{r.Cap, r.Denied, r.Audit, r.SyscallName}] += r.Count
		}
		totals[i] = fmt.Sprintf("%s=%d", methods[i], stats[i].Checks)
	}
	fmt.Printf("COUNT %s\n", strings.Join(totals, " "))
	for _, g := range sortedKeys(counts...) {
		per := make([]string, len(methods))
		for i := range methods {
			per[i] = fmt.Sprintf("%s=%d", methods[i], counts[i][g])
		}
		fmt.Printf("COUNT %s %s %s in %s: %s\n", caps.Name(g.cap),
			map[bool]string{true: "denied", false: "granted"}[g.denied], auditName(g.audit), g.syscall,
			strings.Join(per, " "))
	}
	// The workload's own mappings are memory commits, each a check that a
	// method sees only where cap_capable is not inlined into
	// cap_vm_enough_memory.
	for i, m := range methods {
		if n := counts[i][group{capSysAdmin, true, check.NotAudited, "mmap"}]; n < uint64(k.mmaps) {
			fmt.Printf("COUNT %s missed memory commits: saw %d CAP_SYS_ADMIN checks in mmap, the workload committed %d mappings\n",
				m, n, k.mmaps)
		}
	}
	return nil
}

// onlyFrom fails when a record comes from a process other than pid: the
// pid-tree filter let it through.
func onlyFrom(checks []check.Check, pid uint32) error {
	for i := range checks {
		if checks[i].PID != pid {
			return fmt.Errorf("record from pid %d outside the tree of %d: %s", checks[i].PID, pid, describe(&checks[i]))
		}
	}
	return nil
}

// summary counts records per capability, verdict, audit flag and syscall.
func summary(checks []check.Check) string {
	n := map[string]uint64{}
	for i := range checks {
		r := &checks[i]
		n[fmt.Sprintf("%s %s %s in %s", caps.Name(r.Cap), r.Verdict(), auditName(r.Audit), r.SyscallName)] += r.Count
	}
	keys := make([]string, 0, len(n))
	for key := range n {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, key := range keys {
		parts[i] = fmt.Sprintf("%s x%d", key, n[key])
	}
	return strings.Join(parts, ", ")
}

func auditName(a check.Audit) string {
	switch a {
	case check.Audited:
		return "audit"
	case check.NotAudited:
		return "noaudit"
	}
	return "audit-unknown"
}

// sortedKeys returns the keys of the maps, in the order of their printed form.
func sortedKeys[K comparable](maps ...map[K]uint64) []K {
	var keys []K
	for _, m := range maps {
		for key := range m {
			if !slices.Contains(keys, key) {
				keys = append(keys, key)
			}
		}
	}
	slices.SortFunc(keys, func(x, y K) int { return strings.Compare(fmt.Sprint(x), fmt.Sprint(y)) })
	return keys
}

// effectiveCaps reads this process's effective capability set.
func effectiveCaps() (caps.Set, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read capabilities: %w", err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("parse CapEff %q: %w", v, err)
			}
			return caps.Set(n), nil
		}
	}
	return 0, errors.New("read capabilities: no CapEff line")
}

// makeCgroup creates rel below the cgroup2 mount, with the missing parents,
// and returns its directory and a function that removes what it created.
func makeCgroup(rel string) (string, func(), error) {
	r, err := cgroup.NewResolver(cgroup.Options{})
	if err != nil {
		return "", nil, fmt.Errorf("cgroup2 mount: %w", err)
	}
	var created []string
	cleanup := func() {
		for _, dir := range slices.Backward(created) {
			removeCgroup(dir)
		}
	}
	dir := r.Root()
	for seg := range strings.SplitSeq(strings.Trim(rel, "/"), "/") {
		dir = filepath.Join(dir, seg)
		err := os.Mkdir(dir, 0o755)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			cleanup()
			return "", nil, fmt.Errorf("create cgroup: %w", err)
		}
		created = append(created, dir)
	}
	return dir, cleanup, nil
}

// removeCgroup removes an emptied cgroup, retrying while the kernel
// finishes tearing its last process down.
func removeCgroup(dir string) {
	for range 50 {
		if err := os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newUUID returns a random (version 4) UUID, as Kubernetes gives pods.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
