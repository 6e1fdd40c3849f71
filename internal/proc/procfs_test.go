package proc

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tail := " 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 98765 1000 100\n"
	tests := []struct {
		name    string
		data    string
		want    statFields
		wantErr bool
	}{
		{
			name: "plain",
			data: "42 (bash) S 7 42 42" + tail,
			want: statFields{ppid: 7, startTicks: 98765},
		},
		{
			name: "comm with spaces",
			data: "42 (Web Content) S 7 42 42" + tail,
			want: statFields{ppid: 7, startTicks: 98765},
		},
		{
			name: "comm with parentheses and fake fields",
			data: "42 (x) R 1 2 3 (y)) S 7 42 42" + tail,
			want: statFields{ppid: 7, startTicks: 98765},
		},
		{
			name: "zombie",
			data: "42 (sh) Z 7 42 42" + tail,
			want: statFields{ppid: 7, startTicks: 98765, zombie: true},
		},
		{
			name: "kernel thread",
			data: "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0\n",
			want: statFields{ppid: 0, startTicks: 3},
		},
		{
			name:    "too few fields",
			data:    "42 (bash) S 7 42 42 0 -1\n",
			wantErr: true,
		},
		{
			name:    "no parentheses",
			data:    "42 bash S 7" + tail,
			wantErr: true,
		},
		{
			name:    "bad ppid",
			data:    "42 (bash) S x 42 42" + tail,
			wantErr: true,
		},
		{
			name:    "empty",
			data:    "",
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.data))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStat() error = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseStat() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    statusFields
		wantErr bool
	}{
		{
			name: "typical",
			data: "Name:\tsudo\nTgid:\t10\nPid:\t10\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n",
			want: statusFields{tgid: 10, uid: 1000, euid: 0},
		},
		{
			name: "no tgid line",
			data: "Uid:\t5\t6\t7\t8\n",
			want: statusFields{uid: 5, euid: 6},
		},
		{
			name:    "no uid line",
			data:    "Name:\tx\nTgid:\t1\n",
			wantErr: true,
		},
		{
			name:    "short uid line",
			data:    "Uid:\t5\n",
			wantErr: true,
		},
		{
			name:    "bad uid",
			data:    "Uid:\t5\tx\t7\t8\n",
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatus([]byte(tt.data))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStatus() error = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseStatus() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSplitCmdline(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string
	}{
		{name: "empty", data: "", want: nil},
		{name: "one", data: "sleep\x00", want: []string{"sleep"}},
		{name: "several", data: "ls\x00-l\x00/tmp\x00", want: []string{"ls", "-l", "/tmp"}},
		{name: "empty argument", data: "echo\x00\x00x\x00", want: []string{"echo", "", "x"}},
		{name: "no terminator", data: "nginx: worker process", want: []string{"nginx: worker process"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := splitCmdline([]byte(tt.data)); !slices.Equal(got, tt.want) {
				t.Errorf("splitCmdline(%q) = %q, want %q", tt.data, got, tt.want)
			}
		})
	}
}

func TestParseBtime(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    time.Time
		wantErr bool
	}{
		{
			name: "typical",
			data: "cpu  1 2 3 4\nintr 5\nctxt 6\nbtime 1767323045\nprocesses 7\n",
			want: time.Unix(1767323045, 0),
		},
		{name: "missing", data: "cpu  1 2 3 4\n", wantErr: true},
		{name: "malformed", data: "btime soon\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBtime([]byte(tt.data))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseBtime() error = %v, wantErr %v", err, tt.wantErr)
			}
			if !got.Equal(tt.want) {
				t.Errorf("parseBtime() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReadCmdlineCapsLargeArgv(t *testing.T) {
	root := t.TempDir()
	big := strings.Repeat("a", 10_000)
	writeFakeProc(t, root, fakeProc{pid: 5, comm: "x", args: []string{"x", big, "y"}})
	args, err := readCmdline(root + "/5/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	if got := argsBytes(args); got > maxArgsBytes {
		t.Errorf("kept %d bytes of argv, want at most %d", got, maxArgsBytes)
	}
	if len(args) != 2 || args[0] != "x" {
		t.Errorf("args = %d entries starting %q, want [x aaa...]", len(args), args[0])
	}
}
