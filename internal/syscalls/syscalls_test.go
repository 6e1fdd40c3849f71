package syscalls

import (
	"math"
	"runtime"
	"testing"
)

func TestName(t *testing.T) {
	tests := []struct {
		name string
		arch Arch
		nr   int
		want string
	}{
		{name: "x86_64 read", arch: X8664, nr: 0, want: "read"},
		{name: "x86_64 write", arch: X8664, nr: 1, want: "write"},
		{name: "x86_64 mmap", arch: X8664, nr: 9, want: "mmap"},
		{name: "x86_64 brk", arch: X8664, nr: 12, want: "brk"},
		{name: "x86_64 execve", arch: X8664, nr: 59, want: "execve"},
		{name: "x86_64 syslog", arch: X8664, nr: 103, want: "syslog"},
		{name: "x86_64 sethostname", arch: X8664, nr: 170, want: "sethostname"},
		{name: "x86_64 clone3", arch: X8664, nr: 435, want: "clone3"},
		{name: "x86_64 gap before 424", arch: X8664, nr: 400, want: ""},
		{name: "x86_64 negative", arch: X8664, nr: -1, want: ""},
		{name: "x86_64 too large", arch: X8664, nr: 9999, want: ""},
		{name: "aarch64 read", arch: AArch64, nr: 63, want: "read"},
		{name: "aarch64 write", arch: AArch64, nr: 64, want: "write"},
		{name: "aarch64 newfstatat", arch: AArch64, nr: 79, want: "newfstatat"},
		{name: "aarch64 fstat", arch: AArch64, nr: 80, want: "fstat"},
		{name: "aarch64 syslog", arch: AArch64, nr: 116, want: "syslog"},
		{name: "aarch64 sethostname", arch: AArch64, nr: 161, want: "sethostname"},
		{name: "aarch64 brk", arch: AArch64, nr: 214, want: "brk"},
		{name: "aarch64 execve", arch: AArch64, nr: 221, want: "execve"},
		{name: "aarch64 mmap", arch: AArch64, nr: 222, want: "mmap"},
		{name: "aarch64 clone3", arch: AArch64, nr: 435, want: "clone3"},
		// Entries that depend on how the asm-generic conditionals and
		// __NR3264_ aliases are resolved for a 64-bit arm64.
		{name: "aarch64 fcntl", arch: AArch64, nr: 25, want: "fcntl"},
		{name: "aarch64 renameat", arch: AArch64, nr: 38, want: "renameat"},
		{name: "aarch64 lseek", arch: AArch64, nr: 62, want: "lseek"},
		{name: "aarch64 sendfile", arch: AArch64, nr: 71, want: "sendfile"},
		{name: "aarch64 sync_file_range", arch: AArch64, nr: 84, want: "sync_file_range"},
		{name: "aarch64 getrlimit", arch: AArch64, nr: 163, want: "getrlimit"},
		{name: "aarch64 fadvise64", arch: AArch64, nr: 223, want: "fadvise64"},
		{name: "aarch64 memfd_secret", arch: AArch64, nr: 447, want: "memfd_secret"},
		{name: "aarch64 arch-specific base is no syscall", arch: AArch64, nr: 244, want: ""},
		{name: "aarch64 32-bit time64 range", arch: AArch64, nr: 403, want: ""},
		{name: "aarch64 negative", arch: AArch64, nr: -1, want: ""},
		{name: "aarch64 too large", arch: AArch64, nr: 9999, want: ""},
		{name: "unknown arch", arch: "mips", nr: 0, want: ""},
		{name: "empty arch", arch: "", nr: 0, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Name(tt.arch, tt.nr); got != tt.want {
				t.Errorf("Name(%q, %d) = %q, want %q", tt.arch, tt.nr, got, tt.want)
			}
		})
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		name   string
		arch   Arch
		call   string
		want   int
		wantOK bool
	}{
		{name: "x86_64 sethostname", arch: X8664, call: "sethostname", want: 170, wantOK: true},
		{name: "x86_64 read is zero", arch: X8664, call: "read", want: 0, wantOK: true},
		{name: "aarch64 sethostname", arch: AArch64, call: "sethostname", want: 161, wantOK: true},
		{name: "aarch64 has no open", arch: AArch64, call: "open", want: -1},
		{name: "aarch64 has no 32-bit name", arch: AArch64, call: "fstatat64", want: -1},
		{name: "unknown name", arch: X8664, call: "nosuchcall", want: -1},
		{name: "empty name matches no gap", arch: X8664, call: "", want: -1},
		{name: "unknown arch", arch: "mips", call: "read", want: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Number(tt.arch, tt.call)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Number(%q, %q) = %d, %v; want %d, %v", tt.arch, tt.call, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestNumberInvertsName(t *testing.T) {
	for _, arch := range []Arch{X8664, AArch64} {
		t.Run(string(arch), func(t *testing.T) {
			entries := 0
			for nr := range table(arch) {
				name := Name(arch, nr)
				if name == "" {
					continue
				}
				entries++
				if got, ok := Number(arch, name); !ok || got != nr {
					t.Errorf("Number(%q, %q) = %d, %v; want %d, true", arch, name, got, ok, nr)
				}
			}
			// Both tables have had more than 300 entries since Linux 5.x;
			// fewer means the generator lost entries.
			if entries < 300 {
				t.Errorf("%s table has %d entries, want at least 300", arch, entries)
			}
		})
	}
}

func TestNative(t *testing.T) {
	want := map[string]Arch{"amd64": X8664, "arm64": AArch64}[runtime.GOARCH]
	if got := Native(); got != want {
		t.Errorf("Native() on %s = %q, want %q", runtime.GOARCH, got, want)
	}
}

func FuzzName(f *testing.F) {
	for _, arch := range []Arch{X8664, AArch64, "", "mips"} {
		for _, nr := range []int{-1, 0, 170, 244, 9999, math.MinInt, math.MaxInt} {
			f.Add(string(arch), nr)
		}
	}
	f.Fuzz(func(t *testing.T, arch string, nr int) {
		name := Name(Arch(arch), nr)
		if name == "" {
			return
		}
		if got, ok := Number(Arch(arch), name); !ok || got != nr {
			t.Fatalf("Name(%q, %d) = %q, but Number gives %d, %v", arch, nr, name, got, ok)
		}
	})
}
