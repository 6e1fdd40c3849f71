package tracer

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/capprof/capprof/bpf"
)

// ErrNoMethod means no attach method works on this kernel.
var ErrNoMethod = errors.New("no usable attach method")

// ErrNoBTF means the kernel does not describe its types (CONFIG_DEBUG_INFO_BTF),
// which every attach method's CO-RE relocations need (CheckFloor).
var ErrNoBTF = errors.New("kernel BTF is not available at /sys/kernel/btf/vmlinux (a kernel built with CONFIG_DEBUG_INFO_BTF=y is needed)")

// ErrClosed is returned by Wake and ReadRaw after Close.
var ErrClosed = ringbuf.ErrClosed

// Tracer owns the loaded program, its links and the ring-buffer reader.
// Wake may be called while ReadRaw blocks; the other methods must not run
// concurrently with Close.
type Tracer struct {
	method Method
	mode   Mode
	// learnsCgroups is whether the cgroup_mkdir program is attached.
	learnsCgroups bool
	coll          *ebpf.Collection
	links         []link.Link
	// reader stays set after Close: the closed reader answers ErrClosed,
	// where a nil one would panic in a late Wake.
	reader *ringbuf.Reader
	rec    ringbuf.Record
	// missing are the filter directories that did not exist yet.
	missing []cgroupSlot
	// selectionSize is the selected_cgroups map's size, for its error.
	selectionSize uint32
}

// cgroupSlot is a filter map's slot left empty for a directory to come.
type cgroupSlot struct {
	m    *ebpf.Map
	i    uint32
	path string
}

// Open loads the program with cfg and attaches it. With Method Auto it tries
// each method in order and keeps the first that attaches; the errors of the
// others are returned joined when none does. cfg is not checked again:
// controller.Config.Validate holds the rules.
func Open(cfg Config, log *slog.Logger) (*Tracer, error) {
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("remove memlock limit: %w", err)
	}
	if err := CheckFloor(); err != nil {
		return nil, err
	}
	feats, err := ProbeFeatures()
	if err != nil {
		log.Warn("kernel feature probe failed: recording without the feature", "error", err)
	}
	return openWith(cfg, feats, log)
}

// openWith is Open with the kernel's features given: tests use it to load
// the program as an older kernel would.
func openWith(cfg Config, feats Features, log *slog.Logger) (*Tracer, error) {
	err := cgroupMkdirExists()
	if err != nil {
		log.Warn("cgroup:cgroup_mkdir tracepoint", "error", err)
	}
	learnCgroups := err == nil
	if cfg.Method != Auto {
		return open(cfg, cfg.Method, feats, learnCgroups, log)
	}
	var errs []error
	for _, m := range Methods {
		t, err := open(cfg, m, feats, learnCgroups, log)
		if err == nil {
			log.Info("attached to cap_capable", "method", m)
			return t, nil
		}
		log.Debug("attach method unavailable", "method", m, "error", err)
		errs = append(errs, fmt.Errorf("%s: %w", m, err))
	}
	return nil, fmt.Errorf("%w: %w", ErrNoMethod, errors.Join(errs...))
}

// checkPrograms names the programs each method loads.
var checkPrograms = map[Method][]string{
	TPBTF:         {bpf.CapprofProgTpBtfCapCapable},
	RawTracepoint: {bpf.CapprofProgRawTpCapCapable},
	Tracepoint:    {bpf.CapprofProgTpCapCapable},
	Fexit:         {bpf.CapprofProgFexitCapCapable},
	Kprobe:        {bpf.CapprofProgKprobeCapCapable, bpf.CapprofProgKretprobeCapCapable},
}

var processPrograms = []string{
	bpf.CapprofProgSchedProcessExec,
	bpf.CapprofProgSchedProcessFork,
	bpf.CapprofProgSchedProcessExit,
}

func open(cfg Config, m Method, feats Features, learnCgroups bool, log *slog.Logger) (_ *Tracer, err error) {
	if !m.SeesOpts() {
		// Without the tracepoint, loading fails with a CO-RE or attach error
		// that does not say why; this does.
		if err := tracepointExists(); err != nil {
			return nil, fmt.Errorf("tracepoint capability:cap_capable %w", err)
		}
	}
	spec, err := bpf.LoadCapprof()
	if err != nil {
		return nil, fmt.Errorf("load program spec: %w", err)
	}
	if err := configure(spec, cfg, m, feats); err != nil {
		return nil, err
	}
	keep := append(append([]string{}, checkPrograms[m]...), processPrograms...)
	if learnCgroups {
		keep = append(keep, bpf.CapprofProgCgroupMkdir)
	}
	for name := range spec.Programs {
		if !slices.Contains(keep, name) {
			delete(spec.Programs, name)
		}
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		return nil, fmt.Errorf("load %s programs: %w", m, err)
	}
	t := &Tracer{method: m, mode: cfg.Mode, coll: coll, selectionSize: cfg.SelectedCgroups}
	defer func() {
		if err != nil {
			t.Close()
		}
	}()
	if err := t.fillFilterMaps(cfg); err != nil {
		return nil, err
	}
	if err := t.attach(m); err != nil {
		return nil, err
	}
	if learnCgroups {
		t.attachCgroupMkdir(log)
	}
	if t.reader, err = ringbuf.NewReader(coll.Maps[bpf.CapprofMapEvents]); err != nil {
		return nil, fmt.Errorf("open ring buffer reader: %w", err)
	}
	return t, nil
}

// configure writes cfg and the kernel's features into the program's
// constants and map sizes.
func configure(spec *ebpf.CollectionSpec, cfg Config, m Method, feats Features) error {
	spec.Maps[bpf.CapprofMapEvents].MaxEntries = uint32(cfg.RingBufferSize)
	spec.Maps[bpf.CapprofMapDedup].MaxEntries = cfg.DedupEntries
	spec.Maps[bpf.CapprofMapSelectedCgroups].MaxEntries = cfg.SelectedCgroups

	capMask := ^uint64(0)
	if cfg.Caps != 0 {
		capMask = uint64(cfg.Caps)
	}
	var ranges [maxNoauditRanges]AddrRange
	nRanges := uint32(0)
	if !m.SeesOpts() {
		nRanges = uint32(copy(ranges[:], cfg.NoauditRanges))
	}
	vars := []struct {
		name  string
		value any
	}{
		{bpf.CapprofVarCfgMode, uint8(cfg.Mode)},
		{bpf.CapprofVarCfgVerdict, uint8(cfg.Verdict)},
		{bpf.CapprofVarCfgAuditedOnly, boolByte(cfg.Audit == Audited)},
		{bpf.CapprofVarCfgCaps, capMask},
		{bpf.CapprofVarCfgIncludeHost, boolByte(cfg.IncludeHost)},
		{bpf.CapprofVarCfgHostMntns, cfg.HostMountNS},
		{bpf.CapprofVarCfgCgroupInclude, uint32(len(cfg.CgroupInclude))},
		{bpf.CapprofVarCfgCgroupExclude, uint32(len(cfg.CgroupExclude))},
		{bpf.CapprofVarCfgPidFilter, boolByte(len(cfg.PIDs) > 0)},
		{bpf.CapprofVarCfgWakeupBytes, cfg.WakeupBytes},
		{bpf.CapprofVarCfgNoauditRanges, nRanges},
		{bpf.CapprofVarNoauditRanges, ranges},
		{bpf.CapprofVarCfgTaskBtf, boolByte(feats.TaskBTF)},
		{bpf.CapprofVarCfgSyscallFrom, uint8(feats.Syscall)},
		{bpf.CapprofVarCfgThreadSize, feats.ThreadSize},
	}
	for _, v := range vars {
		if err := spec.Variables[v.name].Set(v.value); err != nil {
			return fmt.Errorf("set %s: %w", v.name, err)
		}
	}
	return nil
}

func (t *Tracer) fillFilterMaps(cfg Config) error {
	for _, f := range []struct {
		m     string
		paths []string
	}{{bpf.CapprofMapCgroupInclude, cfg.CgroupInclude}, {bpf.CapprofMapCgroupExclude, cfg.CgroupExclude}} {
		for i, path := range f.paths {
			slot := cgroupSlot{t.coll.Maps[f.m], uint32(i), path}
			err := slot.put()
			if errors.Is(err, fs.ErrNotExist) {
				// An empty slot matches no task: an include records
				// nothing from it and an exclude drops nothing, until
				// AddAppearedCgroups fills it.
				t.missing = append(t.missing, slot)
				continue
			}
			if err != nil {
				return err
			}
		}
	}
	if cfg.SelectionActive {
		if err := t.SetSelectionActive(true); err != nil {
			return err
		}
	}
	one := uint8(1)
	for _, pid := range cfg.PIDs {
		if err := t.coll.Maps[bpf.CapprofMapTrackedPids].Put(pid, one); err != nil {
			return fmt.Errorf("track pid %d: %w", pid, err)
		}
	}
	return nil
}

// put stores the cgroup directory's fd; the map keeps its own reference.
func (s cgroupSlot) put() error {
	dir, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("open cgroup %s: %w", s.path, err)
	}
	defer dir.Close()
	if err := s.m.Put(s.i, uint32(dir.Fd())); err != nil {
		return fmt.Errorf("filter cgroup %s: %w", s.path, err)
	}
	return nil
}

// MissingCgroups returns the include and exclude directories that did not
// exist yet when last looked for.
func (t *Tracer) MissingCgroups() []string {
	paths := make([]string, len(t.missing))
	for i, s := range t.missing {
		paths[i] = s.path
	}
	return paths
}

// AddAppearedCgroups puts the missing filter directories that exist now
// into the program's filters and returns their paths. A directory that
// exists but cannot be filtered on is no longer missing: its error is
// returned.
func (t *Tracer) AddAppearedCgroups() ([]string, error) {
	var added []string
	var errs []error
	still := t.missing[:0]
	for _, s := range t.missing {
		err := s.put()
		switch {
		case err == nil:
			added = append(added, s.path)
		case errors.Is(err, fs.ErrNotExist):
			still = append(still, s)
		default:
			errs = append(errs, err)
		}
	}
	t.missing = still
	return added, errors.Join(errs...)
}

func (t *Tracer) attach(m Method) error {
	progs := t.coll.Programs
	names := checkPrograms[m]
	var ret *ebpf.Program
	if len(names) == 2 {
		ret = progs[names[1]]
	}
	links, err := AttachCheck(m, progs[names[0]], ret)
	t.links = append(t.links, links...)
	if err != nil {
		return err
	}
	for _, name := range processPrograms {
		l, err := link.AttachTracing(link.TracingOptions{Program: progs[name]})
		if err != nil {
			return fmt.Errorf("attach %s: %w", name, err)
		}
		t.links = append(t.links, l)
	}
	return nil
}

// attachCgroupMkdir attaches the program that reports new cgroups. It is
// optional: without it a check whose cgroup was removed before user space
// resolved it (a short-lived container) only loses its container, so a
// failure is a warning.
func (t *Tracer) attachCgroupMkdir(log *slog.Logger) {
	l, err := link.AttachTracing(link.TracingOptions{Program: t.coll.Programs[bpf.CapprofProgCgroupMkdir]})
	if err != nil {
		log.Warn("attach cgroup_mkdir: checks of containers removed before they are read lose their container", "error", err)
		return
	}
	t.links = append(t.links, l)
	t.learnsCgroups = true
}

// AttachCheck attaches prog to cap_capable the way m does; for Kprobe, ret
// (when not nil) is attached as the kretprobe. On error the links made so
// far are returned for the caller to close. Open uses it, and so does the
// kernel benchmark for its empty programs (test/benchkernel).
func AttachCheck(m Method, prog, ret *ebpf.Program) ([]link.Link, error) {
	var links []link.Link
	add := func(l link.Link, err error) error {
		if err == nil {
			links = append(links, l)
		}
		return err
	}
	var err error
	switch m {
	case TPBTF, Fexit:
		err = add(link.AttachTracing(link.TracingOptions{Program: prog}))
	case RawTracepoint:
		err = add(link.AttachRawTracepoint(link.RawTracepointOptions{Name: "cap_capable", Program: prog}))
	case Tracepoint:
		err = add(link.Tracepoint("capability", "cap_capable", prog, nil))
	case Kprobe:
		// The kretprobe first, so no entry waits for a return that is not seen.
		if ret != nil {
			err = add(link.Kretprobe("cap_capable", ret, nil))
		}
		if err == nil {
			err = add(link.Kprobe("cap_capable", prog, nil))
		}
	default:
		err = fmt.Errorf("unknown method %q", m)
	}
	if err != nil {
		return links, fmt.Errorf("attach %s to cap_capable: %w", m, err)
	}
	return links, nil
}

// CheckRuns reports how often the check programs ran and for how long in
// total, as the kernel counts while BPF run-time statistics are on
// (ebpf.EnableStats, Linux 5.8+). kprobe's two programs add up to one run.
func (t *Tracer) CheckRuns() (runs uint64, total time.Duration, err error) {
	for i, name := range checkPrograms[t.method] {
		s, err := t.coll.Programs[name].Stats()
		if err != nil {
			return 0, 0, fmt.Errorf("read %s statistics: %w", name, err)
		}
		if i == 0 {
			runs = s.RunCount
		}
		total += s.Runtime
	}
	return runs, total, nil
}

// Method is the attach method in use.
func (t *Tracer) Method() Method { return t.method }

// LearnsCgroups reports whether the kernel reports new cgroups (Event.Cgroup).
func (t *Tracer) LearnsCgroups() bool { return t.learnsCgroups }

// Mode is the reporting mode the program was loaded with.
func (t *Tracer) Mode() Mode { return t.mode }

// Detach removes the programs from the kernel's hooks: no new events are
// made, and what is in the ring buffer can still be read.
func (t *Tracer) Detach() error {
	var errs []error
	for _, l := range t.links {
		errs = append(errs, l.Close())
	}
	t.links = nil
	return errors.Join(errs...)
}

// Close detaches and releases every kernel object. Safe to call twice:
// the reader and the collection ignore a second Close.
func (t *Tracer) Close() error {
	errs := []error{t.Detach()}
	if t.reader != nil {
		errs = append(errs, t.reader.Close())
	}
	t.coll.Close()
	return errors.Join(errs...)
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
