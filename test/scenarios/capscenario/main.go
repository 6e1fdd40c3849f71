// Command capscenario is the scenario suite's workload: each subcommand does
// one thing that needs exactly one capability (or none), so that `capprof
// run --verify` can be checked against a known least-privilege set. It exits
// 0 when the thing worked and 1 with the error otherwise.
//
//	capscenario bind80                 listen on TCP 127.0.0.1:80         NET_BIND_SERVICE
//	capscenario rawsocket              open a raw ICMP socket             NET_RAW
//	capscenario chown DIR UID          create a file in DIR, give it UID  CHOWN
//	capscenario dacoverride FILE       write FILE (another user's file
//	                                   in their 0700 directory)           DAC_OVERRIDE
//	capscenario kill PID               send SIGUSR1 to another user's PID KILL
//	capscenario nice                   lower its nice value to -5         SYS_NICE
//	capscenario setuid UID             set its uid to UID                 SETUID
//	capscenario mknod DIR              make a character device in DIR     MKNOD
//	capscenario nothing                allocate memory, exec children     none
//	capscenario target                 a process for kill to signal: ignores
//	                                   SIGUSR1, runs until killed
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "capscenario: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("name a scenario")
	}
	arg := func(i int) string {
		if i+1 < len(args) {
			return args[i+1]
		}
		return ""
	}
	switch args[0] {
	case "bind80":
		l, err := net.Listen("tcp", "127.0.0.1:80")
		if err != nil {
			return err
		}
		return l.Close()
	case "rawsocket":
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_ICMP)
		if err != nil {
			return fmt.Errorf("raw socket: %w", err)
		}
		return syscall.Close(fd)
	case "chown":
		return chownNew(arg(0), arg(1))
	case "dacoverride":
		return os.WriteFile(arg(0), []byte("written by capscenario\n"), 0)
	case "kill":
		pid, err := strconv.Atoi(arg(0))
		if err != nil {
			return fmt.Errorf("kill: pid: %w", err)
		}
		return syscall.Kill(pid, syscall.SIGUSR1)
	case "nice":
		// who 0 with PRIO_PROCESS is the calling thread on Linux.
		return syscall.Setpriority(syscall.PRIO_PROCESS, 0, -5)
	case "setuid":
		uid, err := strconv.Atoi(arg(0))
		if err != nil {
			return fmt.Errorf("setuid: uid: %w", err)
		}
		if err := syscall.Setuid(uid); err != nil {
			return fmt.Errorf("setuid %d: %w", uid, err)
		}
		if got := os.Getuid(); got != uid {
			return fmt.Errorf("setuid %d: uid is %d", uid, got)
		}
		return nil
	case "mknod":
		return mknod(arg(0))
	case "nothing":
		return nothing()
	case "child":
		return allocate(8 << 20)
	case "target":
		signal.Ignore(syscall.SIGUSR1)
		fmt.Println("ready")
		for {
			time.Sleep(time.Hour)
		}
	}
	return fmt.Errorf("unknown scenario %q", args[0])
}

// chownNew creates a file in dir and gives it to uid, then removes it, so
// that every run starts over.
func chownNew(dir, uidText string) error {
	uid, err := strconv.Atoi(uidText)
	if err != nil {
		return fmt.Errorf("chown: uid: %w", err)
	}
	f, err := os.CreateTemp(dir, "chown-")
	if err != nil {
		return err
	}
	f.Close()
	defer os.Remove(f.Name())
	return os.Chown(f.Name(), uid, -1)
}

// mknod makes the character device 1:3 (what /dev/null is) in dir and
// removes it.
func mknod(dir string) error {
	path := filepath.Join(dir, "null")
	if err := syscall.Mknod(path, syscall.S_IFCHR|0o600, 1<<8|3); err != nil {
		return fmt.Errorf("mknod %s: %w", path, err)
	}
	return os.Remove(path)
}

// nothing allocates and touches memory and runs two children (itself), all
// of which needs no capability.
func nothing() error {
	if err := allocate(64 << 20); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for range 2 {
		if out, err := exec.Command(self, "child").CombinedOutput(); err != nil {
			return fmt.Errorf("child: %w: %s", err, out)
		}
	}
	return nil
}

// allocate touches n bytes of fresh memory, one write a page.
func allocate(n int) error {
	b := make([]byte, n)
	for i := 0; i < n; i += 4096 {
		b[i] = 1
	}
	if b[n-4096] != 1 {
		return errors.New("allocate: memory not written")
	}
	return nil
}
