package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/cgroup"
)

// launchCommand is the hidden command capprof run re-executes itself as to
// start the command it records or verifies:
//
//	capprof __launch --caps LIST [--user UID:GID] --cgroup DIR -- CMD ARGS...
//
// It sets the credentials up (see runLaunch), enters the cgroup and execs
// CMD, so the recorded process is the command from its first instruction
// and nothing the launcher did is in the recording.
const launchCommand = "__launch"

// launchErrorFD is the launcher's fd 3: the write end of a pipe from
// capprof run, closed on exec. The launcher writes its error there when it
// fails before exec, so that its failure is never taken for the command's
// exit (the way os/exec reports a failed exec).
const launchErrorFD = 3

// exitLaunchFailed is the launcher's exit status when it fails before exec
// (env(1)'s).
const exitLaunchFailed = 125

// ids is a uid and gid to run a command as.
type ids struct{ uid, gid int }

func (i ids) String() string { return strconv.Itoa(i.uid) + ":" + strconv.Itoa(i.gid) }

// launchSpec is how the launcher starts a command and how long capprof
// waits for it.
type launchSpec struct {
	caps    caps.Set // exactly the command's capabilities
	user    *ids     // nil: capprof's own uid and gid, groups untouched
	command []string
	// waitMain ends the run when the first process exits (--wait main);
	// else when the cgroup is empty.
	waitMain bool
	timeout  time.Duration // kill what is left after it; 0: never
}

// userText is the uid:gid the command runs as.
func (s launchSpec) userText() string {
	if s.user != nil {
		return s.user.String()
	}
	return ids{os.Getuid(), os.Getgid()}.String()
}

// parseUser parses --user's USER[:GROUP]: names or numbers. Without a group,
// the user's primary group from the user database, or for a number not in
// it, the gid equal to the uid.
func parseUser(s string) (*ids, error) {
	name, group, hasGroup := strings.Cut(s, ":")
	var id ids
	u, err := lookupUser(name)
	switch {
	case err == nil:
		id.uid, _ = strconv.Atoi(u.Uid)
		id.gid, _ = strconv.Atoi(u.Gid)
	case isID(name):
		id.uid, _ = strconv.Atoi(name)
		id.gid = id.uid
	default:
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	if !hasGroup {
		return &id, nil
	}
	if isID(group) {
		id.gid, _ = strconv.Atoi(group)
		return &id, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return nil, fmt.Errorf("group %q: %w", group, err)
	}
	id.gid, _ = strconv.Atoi(g.Gid)
	return &id, nil
}

// lookupUser finds a user by number or name.
func lookupUser(name string) (*user.User, error) {
	if isID(name) {
		return user.LookupId(name)
	}
	return user.Lookup(name)
}

// isID reports whether s is a uid or gid number.
func isID(s string) bool {
	n, err := strconv.ParseUint(s, 10, 32)
	return err == nil && n < 1<<32-1 // (uid_t)-1 means "unchanged" to the kernel
}

// permittedCaps returns capprof's own permitted set: everything it can give
// a command.
func permittedCaps() (caps.Set, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("read capabilities: %w", err)
	}
	return caps.Set(data[0].Permitted) | caps.Set(data[1].Permitted)<<32, nil
}

// launched is how a command's run ended.
type launched struct {
	status      string // how its first process exited: "exit status 0", "signal: interrupt"
	interrupted bool   // SIGINT or SIGTERM came
	stopped     string // what the timeout killed, or ""
}

// runLaunched runs spec's command through the launcher in cgroup cg and
// waits until every process of cg has exited (spec.waitMain: the first
// one), killing what is left at spec.timeout. The first SIGINT or SIGTERM
// capprof gets is forwarded to the first process, or once it has exited
// to every process of cg, as a terminal's Ctrl-C reaches a whole process
// group; a second one kills everything in cg. notices is capprof's own
// stderr, for saying so.
func runLaunched(spec launchSpec, cg *cgroup.Dir, stdin io.Reader, stdout, stderr, notices io.Writer) (launched, error) {
	var l launched
	self, err := os.Executable()
	if err != nil {
		return l, fmt.Errorf("launch: %w", err)
	}
	args := []string{launchCommand, "--caps", spec.caps.String(), "--cgroup", cg.Path}
	if spec.user != nil {
		args = append(args, "--user", spec.user.String())
	}
	args = append(append(args, "--"), spec.command...)
	errRead, errWrite, err := os.Pipe()
	if err != nil {
		return l, fmt.Errorf("launch: %w", err)
	}
	defer errRead.Close()
	cmd := exec.Command(self, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.ExtraFiles = []*os.File{errWrite} // fd 3 = launchErrorFD

	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	err = cmd.Start()
	errWrite.Close()
	if err != nil {
		return l, fmt.Errorf("launch %s: %w", spec.command[0], err)
	}
	// EOF without a message: the launcher exec'd the command.
	msg, _ := io.ReadAll(errRead)
	if len(msg) > 0 {
		_ = cmd.Wait()
		return l, fmt.Errorf("launch %s: %s", spec.command[0], strings.TrimSpace(string(msg)))
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var timeout <-chan time.Time
	if spec.timeout > 0 {
		t := time.NewTimer(spec.timeout)
		defer t.Stop()
		timeout = t.C
	}
	// emptied is set once the first process has exited: only then, since
	// the cgroup is empty until the launcher enters it.
	var emptied chan error
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for {
		select {
		case sig := <-signals:
			if l.interrupted {
				fmt.Fprintf(notices, "capprof run: killing %s\n", spec.command[0])
				cg.Kill()
				continue
			}
			l.interrupted = true
			if l.status == "" {
				_ = cmd.Process.Signal(sig)
			} else {
				cg.Signal(sig.(syscall.Signal))
			}
			fmt.Fprintf(notices, "capprof run: passed %s on to %s; again to kill it\n", sig, spec.command[0])
		case <-timeout:
			l.stopped = fmt.Sprintf("killed at the %s timeout: %s", spec.timeout, processesText(cg.PIDs()))
			cg.Kill()
		case err := <-waited:
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				return l, fmt.Errorf("wait for %s: %w", spec.command[0], err)
			}
			l.status = statusText(cmd.ProcessState.Sys().(syscall.WaitStatus))
			if spec.waitMain {
				return l, nil
			}
			emptied = make(chan error, 1)
			go func() { emptied <- cg.WaitEmpty(ctx) }()
		case err := <-emptied:
			if err != nil {
				return l, fmt.Errorf("wait for %s: %w", spec.command[0], err)
			}
			return l, nil
		}
	}
}

// processesText names the processes the timeout kills: "3 processes left
// (nginx, sleep)", by their names (comm), each once.
func processesText(pids []int) string {
	var names []string
	for _, pid := range pids {
		if comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); err == nil {
			names = append(names, strings.TrimSpace(string(comm)))
		}
	}
	slices.Sort(names)
	text := strconv.Itoa(len(pids)) + " processes left"
	if len(pids) == 1 {
		text = "1 process left"
	}
	if len(names) == 0 {
		return text
	}
	return text + " (" + strings.Join(slices.Compact(names), ", ") + ")"
}

// statusText says how a process ended as os.ProcessState.String does
// ("exit status 1", "signal: killed"), for the first process, which capprof
// waits for, and the others, whose statuses the kernel's exit events carry.
func statusText(ws syscall.WaitStatus) string {
	var text string
	switch {
	case ws.Exited():
		text = "exit status " + strconv.Itoa(ws.ExitStatus())
	case ws.Signaled():
		text = "signal: " + ws.Signal().String()
	default:
		text = fmt.Sprintf("wait status %#x", uint32(ws))
	}
	if ws.CoreDump() {
		text += " (core dumped)"
	}
	return text
}

// launchMain is the launcher's entry point: it runs runLaunch, which only
// returns on failure, and reports the failure to capprof run.
func launchMain(args []string, stderr io.Writer) int {
	syscall.CloseOnExec(launchErrorFD)
	err := runLaunch(args, stderr)
	report := os.NewFile(launchErrorFD, "launch-errors")
	if _, werr := fmt.Fprintf(report, "%v\n", err); werr != nil {
		fmt.Fprintf(stderr, "capprof %s: %v\n", launchCommand, err) // run by hand, without the pipe
	}
	return exitLaunchFailed
}

// runLaunch gives the calling thread exactly the listed capabilities, as the
// given user, and execs the command in the given cgroup. One path serves
// uid 0 and other users:
//
//  1. The bounding set is limited to the list (PR_CAPBSET_DROP), so that
//     nothing, not even a set-user-ID or file-capability program, can
//     gain more.
//  2. With --user: PR_SET_KEEPCAPS keeps the permitted set across
//     setgroups (none), setgid and setuid.
//  3. Permitted, effective and inheritable become the list (capset), and
//     each listed capability is raised in the ambient set.
//  4. The process moves itself into the cgroup, through a cgroup.procs
//     opened before the uid changed (the kernel checks the opener's
//     credentials since Linux 5.16), so the launcher's own checks
//     (CAP_SETPCAP, CAP_SETUID, ...) are not recorded.
//  5. execve: a non-root user gets the ambient set as its permitted and
//     effective sets (P' = P'(ambient) for a file without capabilities);
//     uid 0 gets the bounding set ∪ the inheritable set, the list again.
//
// Credentials are per thread and only the execing thread's count, so the
// goroutine is locked to its thread. It returns only on failure.
func runLaunch(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet(launchCommand, flag.ContinueOnError)
	capsFlag := fs.String("caps", "", "exactly the command's capabilities")
	userFlag := fs.String("user", "", "UID:GID to run as")
	cgroupFlag := fs.String("cgroup", "", "cgroup directory to enter before exec")
	if err := parseFlagsAndOperands(fs, args, stderr); err != nil {
		return err
	}
	command := fs.Args()
	if len(command) == 0 || *cgroupFlag == "" {
		return errors.New("usage: capprof __launch --caps LIST [--user UID:GID] --cgroup DIR -- CMD ARGS...")
	}
	keep, err := caps.ParseSet(*capsFlag)
	if err != nil {
		return err
	}
	var as *ids
	if *userFlag != "" {
		if as, err = parseUser(*userFlag); err != nil {
			return err
		}
	}
	path, err := exec.LookPath(command[0])
	if err != nil {
		return err
	}
	procs, err := os.OpenFile(filepath.Join(*cgroupFlag, "cgroup.procs"), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open cgroup: %w", err)
	}
	defer procs.Close()

	runtime.LockOSThread()
	for id := 0; id < 64; id++ {
		if keep.Has(id) {
			continue
		}
		// EINVAL: a number beyond this kernel's last capability.
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(id), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("drop %s from the bounding set: %w", caps.Name(id), err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	if as != nil {
		if err := switchUser(*as); err != nil {
			return err
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := range data {
		word := uint32(keep >> (32 * i))
		data[i] = unix.CapUserData{Effective: word, Permitted: word, Inheritable: word}
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("set capabilities %s (capprof must hold them): %w", keep, err)
	}
	for _, id := range keep.IDs() {
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(id), 0, 0); err != nil {
			return fmt.Errorf("raise %s in the ambient set: %w", caps.Name(id), err)
		}
	}
	if _, err := procs.WriteString("0"); err != nil {
		return fmt.Errorf("enter cgroup: %w", err)
	}
	return fmt.Errorf("exec %s: %w", path, syscall.Exec(path, command, os.Environ()))
}

// switchUser changes to the user, with no supplementary groups, keeping the
// permitted capabilities (PR_SET_KEEPCAPS; the effective set is emptied by
// setuid and set again by the caller).
func switchUser(as ids) error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities: %w", err)
	}
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("clear supplementary groups: %w", err)
	}
	if err := syscall.Setgid(as.gid); err != nil {
		return fmt.Errorf("set gid %d: %w", as.gid, err)
	}
	if err := syscall.Setuid(as.uid); err != nil {
		return fmt.Errorf("set uid %d: %w", as.uid, err)
	}
	return nil
}
