package tracer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/capprof/capprof/bpf"
)

// maxNoauditRanges is MAX_NOAUDIT_RANGES, the length of the program's
// noaudit_ranges (a test reads it from the object). noauditCallers has at
// most as many entries, so that no range is left out.
const maxNoauditRanges = 8

// AddrRange is a kernel function's text, [Start, End), and what a check made
// below it is: Class is an Audit* value of the BPF program.
type AddrRange = bpf.CapprofAddrRange

// Audit classes shared with the BPF program.
const (
	auditUnknown = uint8(bpf.CapprofAuditClassAUDIT_UNKNOWN)
	auditYes     = uint8(bpf.CapprofAuditClassAUDIT_YES)
	auditNo      = uint8(bpf.CapprofAuditClassAUDIT_NO)
)

// noauditCallers are the kernel functions that call cap_capable with
// CAP_OPT_NOAUDIT (kernel/capability.c, security/commoncap.c).
// cap_vm_enough_memory tail-calls cap_capable, so its frame is gone from the
// stack: its caller security_vm_enough_memory_mm stands for it. ptrace's
// checks are NOAUDIT only for PTRACE_MODE_NOAUDIT, so below those frames
// the audit flag is unknown rather than guessed.
var noauditCallers = []struct {
	name  string
	class uint8
}{
	{"cap_vm_enough_memory", auditNo},
	{"security_vm_enough_memory_mm", auditNo},
	{"ns_capable_noaudit", auditNo},
	{"has_ns_capability_noaudit", auditNo},
	{"has_capability_noaudit", auditNo},
	{"ptrace_has_cap", auditUnknown},
	{"__ptrace_may_access", auditUnknown},
}

// ErrKallsymsHidden means /proc/kallsyms shows no addresses (kptr_restrict,
// or not enough privilege), so NOAUDIT checks cannot be classified.
var ErrKallsymsHidden = errors.New("kallsyms addresses are hidden")

// NoauditRanges reads /proc/kallsyms and returns the text ranges of the
// known NOAUDIT callers that this kernel has (some are inlined away).
func NoauditRanges() ([]AddrRange, error) {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return nil, fmt.Errorf("open kallsyms: %w", err)
	}
	defer f.Close()
	return parseNoauditRanges(f)
}

func parseNoauditRanges(r io.Reader) ([]AddrRange, error) {
	wanted := make(map[string]uint8, len(noauditCallers))
	for _, c := range noauditCallers {
		wanted[c.name] = c.class
	}
	found := map[string]uint64{}
	var text []uint64 // every text symbol's address, to find where a function ends
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// Weak symbols (W, w) are not candidates, but they bound the
		// function before them.
		if len(fields) < 3 || !strings.Contains("tTwW", fields[1]) || len(fields[1]) != 1 {
			continue
		}
		addr, err := strconv.ParseUint(fields[0], 16, 64)
		if err != nil {
			return nil, fmt.Errorf("parse kallsyms address %q: %w", fields[0], err)
		}
		text = append(text, addr)
		if _, ok := wanted[fields[2]]; ok && len(fields) == 3 && (fields[1] == "t" || fields[1] == "T") {
			found[fields[2]] = addr
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read kallsyms: %w", err)
	}
	sort.Slice(text, func(i, j int) bool { return text[i] < text[j] })
	var ranges []AddrRange
	for _, c := range noauditCallers {
		start, ok := found[c.name]
		if !ok {
			continue
		}
		if start == 0 {
			return nil, ErrKallsymsHidden
		}
		i := sort.Search(len(text), func(i int) bool { return text[i] > start })
		if i == len(text) {
			continue
		}
		ranges = append(ranges, AddrRange{Start: start, End: text[i], Class: uint32(c.class)})
	}
	return ranges, nil
}
