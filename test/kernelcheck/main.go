// Command kernelcheck runs the recorder's real-kernel scenarios against the
// running kernel with each attach method it is given, using the real
// controller (internal/controller). It is the test program of the kernel
// matrix VMs (test/vm/run.sh), where it runs as the initramfs's only program:
// it is built statically (CGO_ENABLED=0) and needs no other binary. The
// unprivileged workloads are this binary re-executed (from /proc/self/exe)
// as uid and gid 65534 with the hidden -child flag.
//
// It prints capprof doctor's facts about the kernel, then one line per
// scenario, "PASS <method> <scenario> (<seconds>s)" or "FAIL <method> <scenario>: <why>",
// then "COUNT fexit=<n> kprobe=<m>" (one workload seen by every checked
// method at once: a difference is checks that one of them misses) with the
// counts per kind of check, then "TABLE | ... |", this kernel's row of the
// kernels × features table in docs/recorder.md (test/vm/kernel-table.sh
// writes it there), and last "KERNELCHECK PASS" or "KERNELCHECK FAIL".
// -attach all checks every method that attaches on this kernel, and auto.
//
//	kernelcheck [-attach fexit,kprobe,auto|all] [-label "Debian 11"] [-n 50] [-count-children 200]
//
// Needs root, /proc/sys/kernel/dmesg_restrict = 1 and a cgroup2 mount.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/capprof/capprof/internal/tracer"
)

func main() {
	attach := flag.String("attach", "fexit,kprobe,auto", "comma-separated attach methods to check, or all that attach here")
	n := flag.Int("n", 50, "syslog children of the unique-mode scenario")
	countChildren := flag.Int("count-children", 200, "syslog children of the fexit-vs-kprobe count workload")
	mmaps := flag.Int("mmaps", 200, "anonymous mappings the non-root workloads commit and touch")
	child := flag.String("child", "", "internal: run one unprivileged workload")
	wait := flag.Bool("wait", false, "internal: wait for a line on stdin before the workload")
	label := flag.String("label", "this host", "the kernel's distribution, for the table row")
	flag.Parse()

	if *child != "" {
		if err := runChild(*child, *wait, *n, *mmaps); err != nil {
			fmt.Fprintf(os.Stderr, "kernelcheck child %s: %v\n", *child, err)
			os.Exit(1)
		}
		return
	}

	methods, err := parseMethods(*attach)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kernelcheck:", err)
		os.Exit(2)
	}
	k := &checker{
		n:             *n,
		countChildren: *countChildren,
		mmaps:         *mmaps,
		log:           slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	ok := k.run(methods)
	fmt.Println(k.tableRow(*label, ok))
	if ok {
		fmt.Println("KERNELCHECK PASS")
		return
	}
	fmt.Println("KERNELCHECK FAIL")
	os.Exit(1)
}

func joinMethods(methods []tracer.Method, sep string) string {
	s := make([]string, len(methods))
	for i, m := range methods {
		s[i] = string(m)
	}
	return strings.Join(s, sep)
}

// parseMethods parses -attach; "all" gives nil, resolved after the probes.
func parseMethods(s string) ([]tracer.Method, error) {
	if s == "all" {
		return nil, nil
	}
	var out []tracer.Method
	for f := range strings.SplitSeq(s, ",") {
		var m tracer.Method
		if err := m.UnmarshalText([]byte(strings.TrimSpace(f))); err != nil {
			return nil, fmt.Errorf("attach: %w", err)
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

// checker runs the scenarios and remembers whether all passed.
type checker struct {
	n, countChildren, mmaps int
	log                     *slog.Logger
	exe                     string // this binary, as the children are started from it
	tracepoint              bool   // the kernel has capability:cap_capable
	fexit                   bool   // fexit attaches to cap_capable (BPF trampolines for kernel functions)
	failed                  bool
	// What the table row says: the methods that attach, auto's choice,
	// the methods whose scenarios all passed, and whether new cgroups'
	// paths are learned.
	attaches, passed []tracer.Method
	chosen           tracer.Method
	learnsCgroups    bool
	release          string
}

// run prints the doctor facts, checks the prerequisites and runs every
// scenario of every method; it reports whether all passed.
func (k *checker) run(methods []tracer.Method) bool {
	working := k.doctor()
	if methods == nil {
		for _, m := range tracer.Methods {
			if working[m] {
				methods = append(methods, m)
			}
		}
		methods = append(methods, tracer.Auto)
	}
	if err := k.setup(); err != nil {
		k.fail("-", "setup", err)
		return false
	}
	for _, m := range methods {
		failedBefore := k.failed
		k.failed = false
		for _, s := range scenariosFor(m) {
			start := time.Now()
			err := s.run(k, m)
			k.report(m, s.name, time.Since(start), err)
		}
		if !k.failed && m != tracer.Auto {
			k.passed = append(k.passed, m)
		}
		k.failed = k.failed || failedBefore
	}
	// The same workload seen by every method at once: what one counts and
	// another does not is a check that the other misses.
	var counted []tracer.Method
	for _, m := range methods {
		if m != tracer.Auto && working[m] {
			counted = append(counted, m)
		}
	}
	if len(counted) > 0 {
		start := time.Now()
		err := k.count(counted)
		k.report(tracer.Method(joinMethods(counted, "+")), "count", time.Since(start), err)
	}
	return !k.failed
}

// doctor prints what `capprof doctor` prints, prefixed, and returns the
// methods that load and attach.
func (k *checker) doctor() map[tracer.Method]bool {
	for _, f := range tracer.Environment() {
		printFinding(f)
		switch f.Name {
		case "cap_capable tracepoint":
			k.tracepoint = f.OK
		case "cgroup_mkdir tracepoint":
			k.learnsCgroups = f.OK
		case "kernel":
			k.release = f.Detail
		}
	}
	working := map[tracer.Method]bool{}
	chosen := tracer.Method("")
	for _, m := range tracer.Methods {
		err := tracer.ProbeMethod(m)
		detail := "loads and attaches"
		if err != nil {
			detail = err.Error()
		}
		printFinding(tracer.Finding{Name: "attach " + string(m), OK: err == nil, Detail: detail})
		working[m] = err == nil
		if err == nil {
			k.attaches = append(k.attaches, m)
		}
		if m == tracer.Fexit {
			k.fexit = err == nil
		}
		if err == nil && chosen == "" {
			chosen = m
		}
	}
	k.chosen = chosen
	if chosen == "" {
		fmt.Println("doctor: record cannot attach: no attach method works on this kernel")
	} else {
		fmt.Printf("doctor: record would use: %s\n", chosen)
	}
	return working
}

func printFinding(f tracer.Finding) {
	mark := "ok  "
	if !f.OK {
		mark = "no  "
	}
	// Verifier logs are long: the first line says what failed.
	detail, _, _ := strings.Cut(f.Detail, "\n")
	fmt.Printf("doctor: %-24s %s%s\n", f.Name, mark, detail)
}

// setup checks what the scenarios rely on.
func (k *checker) setup() error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root")
	}
	restrict, err := os.ReadFile("/proc/sys/kernel/dmesg_restrict")
	if err != nil {
		return fmt.Errorf("read dmesg_restrict: %w", err)
	}
	if strings.TrimSpace(string(restrict)) != "1" {
		return fmt.Errorf("/proc/sys/kernel/dmesg_restrict is %s, want 1: syslog as uid 65534 must be denied",
			strings.TrimSpace(string(restrict)))
	}
	// os.Executable reads the same link; fall back to the link itself,
	// which exec resolves, where readlink fails.
	if k.exe, err = os.Readlink("/proc/self/exe"); err != nil {
		k.exe = "/proc/self/exe"
	}
	return nil
}

// report prints a scenario's verdict with its time, which shows where a
// VM's minutes go.
func (k *checker) report(m tracer.Method, scenario string, took time.Duration, err error) {
	if err != nil {
		k.fail(string(m), scenario, err)
		return
	}
	fmt.Printf("PASS %s %s (%.1fs)\n", m, scenario, took.Seconds())
}

func (k *checker) fail(method, scenario string, err error) {
	k.failed = true
	fmt.Printf("FAIL %s %s: %s\n", method, scenario, strings.ReplaceAll(err.Error(), "\n", "\n    "))
}
