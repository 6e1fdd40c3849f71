package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/config"
	"github.com/capprof/capprof/internal/kube"
	"github.com/capprof/capprof/internal/proc"
	"github.com/capprof/capprof/internal/tracer"
)

// ErrClosed is returned by Run when Close came before it or ended it.
var ErrClosed = errors.New("controller closed")

// cgroupPollInterval is how often Run looks for filter directories that did
// not exist yet: a stat each, only while some are missing.
const cgroupPollInterval = 100 * time.Millisecond

// Sink receives batches of checks. A Write error stops the recording.
type Sink interface {
	Write(checks []check.Check) error
}

// Config is one recording's configuration.
type Config struct {
	Tracer tracer.Config
	// FlushInterval is how often unique-mode counts are reported (and
	// ring-buffer losses checked).
	FlushInterval time.Duration
	// MaxBatch is the most checks handed to the sink at once.
	MaxBatch int
	// MaxBatchDelay bounds how long a check waits, in the ring buffer and
	// in a batch, before it is handed to the sink.
	MaxBatchDelay time.Duration
	HostName      string
	// ProcRoot is where procfs is mounted ("" = /proc).
	ProcRoot string
	// PIDTree, when not 0, records only this process and its descendants.
	PIDTree uint32
	// CgroupInclude and CgroupExclude are cgroup v2 paths, relative to the
	// cgroup2 mount ("/kubepods") or absolute ("/sys/fs/cgroup/kubepods").
	// New resolves them into Tracer's fields of the same names, and also
	// fills Tracer.PIDs, HostMountNS and NoauditRanges. A directory that
	// does not exist yet (an agent started before the kubelet made
	// /kubepods) is filtered on from when Run sees it appear.
	CgroupInclude []string
	CgroupExclude []string
	// OnMissingCgroups, when set, is called with the filter directories
	// that do not exist yet: by New when some are missing, then by Run
	// each time some appear, lastly with none.
	OnMissingCgroups func(paths []string)
	// Kubernetes, when set, adds the metadata of the node's pods to the
	// checks of their containers.
	Kubernetes *KubernetesConfig
	// Selection, when set, narrows the recording live to the pods its
	// rules and the cluster's CapabilityRecordings select on this node;
	// it needs Kubernetes, whose pod watch it follows.
	Selection *SelectionConfig
	Logger    *slog.Logger
}

// KubernetesConfig configures pod metadata and its late binding.
type KubernetesConfig struct {
	Watch kube.Config
	// MaxWait is how long the checks of a pod's container are held while
	// the pod's status does not list the container yet (a pod starting).
	MaxWait time.Duration
	// MaxPending bounds the checks held at once; past it the oldest are
	// emitted without waiting.
	MaxPending int
}

// DefaultKubernetesConfig is the pod metadata configuration for node.
func DefaultKubernetesConfig(node string) KubernetesConfig {
	return KubernetesConfig{Watch: kube.DefaultConfig(node), MaxWait: 5 * time.Second, MaxPending: 10000}
}

// Validate reports the first invalid field, as a *config.FieldError naming
// it.
func (c *KubernetesConfig) Validate() error {
	if err := positive(c.MaxWait); err != nil {
		return &config.FieldError{Field: "MaxWait", Err: err}
	}
	if err := positive(c.MaxPending); err != nil {
		return &config.FieldError{Field: "MaxPending", Err: err}
	}
	return c.Watch.Validate()
}

// ShellAudit is the audit setting of the shells that record for people and
// pipelines, `capprof record` and the receiver: NOAUDIT checks, which no
// advice uses, are dropped in the kernel and counted (README, "Defaults:
// audit and mode"). DefaultConfig keeps them, for `capprof run` and the
// checks of the recorder itself.
const ShellAudit = tracer.Audited

// DefaultConfig is the configuration `capprof record` starts from.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		Tracer:        tracer.DefaultConfig(),
		FlushInterval: time.Second,
		MaxBatch:      512,
		MaxBatchDelay: time.Second,
		HostName:      host,
	}
}

// maxRingBufferSize bounds Tracer.RingBufferSize: past it the kernel's
// allocation is more likely to fail than the events to need the room.
const maxRingBufferSize = 1 << 30

// pidLimit is PID_MAX_LIMIT on 64-bit kernels (include/linux/threads.h):
// every pid is below it.
const pidLimit = 1 << 22

// Validate reports the first invalid field, as a *config.FieldError naming
// the Go field (Tracer's by their own names). Every rule of a recording's
// settings is here, or in the typed value that decodes itself; the
// receiver and the CLI only rename the field.
func (c *Config) Validate() error {
	t := &c.Tracer
	for _, f := range []struct {
		field string
		err   error
	}{
		{"FlushInterval", positive(c.FlushInterval)},
		{"MaxBatch", positive(c.MaxBatch)},
		{"MaxBatchDelay", positive(c.MaxBatchDelay)},
		{"CgroupInclude", cgroupFilters(c.CgroupInclude)},
		{"CgroupExclude", cgroupFilters(c.CgroupExclude)},
		{"PIDTree", pidTree(c.PIDTree)},
		{"Method", t.Method.Validate()},
		{"Mode", t.Mode.Validate()},
		{"Verdict", t.Verdict.Validate()},
		{"Audit", t.Audit.Validate()},
		{"RingBufferSize", ringBufferSize(t.RingBufferSize)},
		{"DedupEntries", positive(t.DedupEntries)},
	} {
		if f.err != nil {
			return &config.FieldError{Field: f.field, Err: f.err}
		}
	}
	if c.Kubernetes != nil {
		if err := c.Kubernetes.Validate(); err != nil {
			return fmt.Errorf("kubernetes: %w", err)
		}
	}
	if c.Selection != nil {
		if c.Kubernetes == nil {
			return &config.FieldError{Field: "Selection", Err: errors.New("needs Kubernetes (the node's pods are what it selects)")}
		}
		if err := c.Selection.Validate(); err != nil {
			return fmt.Errorf("selection: %w", err)
		}
	}
	if err := positive(t.SelectedCgroups); err != nil {
		return &config.FieldError{Field: "SelectedCgroups", Err: err}
	}
	return nil
}

func positive[T int | uint32 | time.Duration](v T) error {
	if v <= 0 {
		return fmt.Errorf("must be positive, got %v", v)
	}
	return nil
}

func cgroupFilters(paths []string) error {
	if len(paths) > tracer.MaxCgroupFilters {
		return fmt.Errorf("at most %d subtrees, got %d", tracer.MaxCgroupFilters, len(paths))
	}
	return nil
}

func pidTree(pid uint32) error {
	if pid >= pidLimit {
		return fmt.Errorf("%d is not a pid (pids are below %d)", pid, pidLimit)
	}
	return nil
}

func ringBufferSize(n int) error {
	if n < 4096 || n > maxRingBufferSize || n&(n-1) != 0 {
		return fmt.Errorf("%d is not a power of two between 4096 and 1 GiB", n)
	}
	return nil
}

// Stats counts what a recording saw. Lost events are the kernel's: the ring
// buffer had no room. Evicted keys are unique-mode keys the LRU map dropped;
// hits on such a key since its last flush could not be counted.
type Stats struct {
	Events      uint64 // ring-buffer records read
	Records     uint64 // checks handed to the sink
	Checks      uint64 // kernel checks those records stand for (sum of counts)
	Lost        uint64 // every event lost: LostChecks and process events
	LostChecks  uint64
	EvictedKeys uint64
	Undecodable uint64 // records of a type or size this build does not know
	// Held counts the checks held for their pod's metadata (late
	// binding); Unbound those of them emitted without their container's
	// metadata, past the wait or the memory bound; Pending those held now.
	Held, Unbound, Pending uint64
	// NoauditSkipped counts, per capability, the NOAUDIT checks the kernel
	// dropped (tracer.Audited); read every flush interval.
	NoauditSkipped tracer.CapCounts
	// UnselectedSkipped counts, per capability, the checks dropped as
	// outside the live selection (Config.Selection): by the kernel, read
	// every flush interval, and by the controller, the containers a
	// recording does not name in the pods it selects (selection.Keeps).
	UnselectedSkipped tracer.CapCounts
	// Selecting says the live selection is on; SelectedCgroups is how many
	// pod cgroup ids it holds.
	Selecting       bool
	SelectedCgroups int
}

// Controller is one recording. Close may be called at any time, from any
// goroutine but the sink's: it ends a running Run and waits for it.
type Controller struct {
	cfg     Config
	log     *slog.Logger
	tracer  *tracer.Tracer
	procs   *proc.Cache
	cgroups *cgroup.Resolver
	unique  *uniqueTable
	stats   stats
	batch   []check.Check
	// exits is Run's sink when it is an ExitSink.
	exits ExitSink
	// meta and pending are set with Config.Kubernetes; watch runs meta.
	meta    podMetadata
	watch   func(context.Context)
	pending *pendingQueue
	// selector is set with Config.Selection.
	selector *selector

	// mu guards closed and the running Run's stopRun and ran, so that
	// Close releases the tracer only once no Run uses it.
	mu        sync.Mutex
	closed    bool
	stopRun   context.CancelFunc
	ran       chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// stats is Stats as Run updates it while others read it.
type stats struct {
	events, records, checks, lost, lostChecks, evictedKeys, undecodable atomic.Uint64
	held, unbound, pending                                              atomic.Uint64
	noauditSkipped, unselectedSkipped                                   atomic.Pointer[tracer.CapCounts]
	// unselectedDropped counts per capability the checks the controller
	// dropped after the kernel let them through (selection.Keeps).
	unselectedDropped [len(tracer.CapCounts{})]atomic.Uint64
}

// New prepares a recording: it scans /proc, resolves the filters and loads
// and attaches the BPF program. Close releases it.
func New(cfg Config) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	procRoot := cfg.ProcRoot
	if procRoot == "" {
		procRoot = "/proc"
	}
	resolver, err := cgroup.NewResolver(cgroup.Options{})
	if err != nil {
		return nil, fmt.Errorf("cgroup resolver: %w", err)
	}
	hostNS, err := proc.HostNamespaces(procRoot, log)
	if err != nil {
		return nil, err
	}
	procs := proc.NewCache(proc.Options{Node: cfg.HostName, ProcRoot: procRoot, HostNamespaces: hostNS})
	if _, err := procs.Scan(); err != nil {
		return nil, fmt.Errorf("scan processes: %w", err)
	}

	tc := cfg.Tracer
	tc.HostMountNS = hostNS[proc.NSMnt]
	if tc.CgroupInclude, err = absCgroups(resolver.Root(), cfg.CgroupInclude); err != nil {
		return nil, err
	}
	if tc.CgroupExclude, err = absCgroups(resolver.Root(), cfg.CgroupExclude); err != nil {
		return nil, err
	}
	if cfg.PIDTree != 0 {
		tc.PIDs = append([]uint32{cfg.PIDTree}, procs.Descendants(cfg.PIDTree)...)
	}
	if tc.Method != tracer.Fexit && tc.Method != tracer.Kprobe {
		ranges, err := tracer.NoauditRanges()
		if err != nil {
			msg := "NOAUDIT checks cannot be told apart on the tracepoint: the audit flag will be omitted"
			if tc.Audit == tracer.Audited {
				msg += " and none are dropped"
			}
			log.Warn(msg, "error", err)
		}
		tc.NoauditRanges = ranges
	}
	c := &Controller{
		cfg:     cfg,
		log:     log,
		procs:   procs,
		cgroups: resolver,
		unique:  newUniqueTable(),
		batch:   make([]check.Check, 0, cfg.MaxBatch),
	}
	if k := cfg.Kubernetes; k != nil {
		wc := k.Watch
		if wc.Logger == nil {
			wc.Logger = log
		}
		if cfg.Selection != nil {
			// The selector exists once the tracer does, before Run
			// starts the watch that calls this.
			wc.OnPod = func(key string, pod *corev1.Pod) { c.selector.sel.PodChanged(key, pod) }
			tc.SelectionActive = cfg.Selection.startsActive()
		}
		w, err := kube.New(wc)
		if err != nil {
			return nil, fmt.Errorf("kubernetes: %w", err)
		}
		c.meta, c.watch = w, w.Run
		c.pending = newPendingQueue(k.MaxWait, k.MaxPending)
	}
	if c.tracer, err = tracer.Open(tc, log); err != nil {
		return nil, err
	}
	if cfg.Selection != nil {
		if c.selector, err = newSelector(&cfg, c.tracer, c.meta, resolver.Root(), log); err != nil {
			c.tracer.Close()
			return nil, fmt.Errorf("selection: %w", err)
		}
	}
	if missing := c.tracer.MissingCgroups(); len(missing) > 0 {
		log.Warn("cgroup filter directories do not exist yet: their filters apply once they appear", "paths", missing)
		if cfg.OnMissingCgroups != nil {
			cfg.OnMissingCgroups(missing)
		}
	}
	return c, nil
}

// Method is the attach method the recording uses.
func (c *Controller) Method() tracer.Method { return c.tracer.Method() }

// LearnsCgroups reports whether the kernel reports new cgroups' paths, so
// that checks of containers removed before they are read keep their
// container (false on kernels without the cgroup_mkdir tracepoint's BTF).
func (c *Controller) LearnsCgroups() bool { return c.tracer.LearnsCgroups() }

// CheckRuns reports how often the check program ran and its total run
// time, while BPF run-time statistics are on (ebpf.EnableStats).
func (c *Controller) CheckRuns() (uint64, time.Duration, error) { return c.tracer.CheckRuns() }

// Stats returns the counters so far; safe while Run runs.
func (c *Controller) Stats() Stats {
	s := &c.stats
	st := Stats{
		Events: s.events.Load(), Records: s.records.Load(), Checks: s.checks.Load(),
		Lost: s.lost.Load(), LostChecks: s.lostChecks.Load(), EvictedKeys: s.evictedKeys.Load(),
		Undecodable: s.undecodable.Load(), Held: s.held.Load(), Unbound: s.unbound.Load(), Pending: s.pending.Load(),
	}
	if n := s.noauditSkipped.Load(); n != nil {
		st.NoauditSkipped = *n
	}
	if n := s.unselectedSkipped.Load(); n != nil {
		st.UnselectedSkipped = *n
	}
	for i := range s.unselectedDropped {
		st.UnselectedSkipped[i] += s.unselectedDropped[i].Load()
	}
	if c.selector != nil {
		st.Selecting, st.SelectedCgroups = c.selector.sel.Active(), c.selector.sel.Size()
	}
	return st
}

// Run records until ctx is done or Close is called, then detaches, drains
// the ring buffer, flushes unique-mode counts and writes the last batch. It
// returns the first sink error, joined with ErrClosed when Close ended it
// (or came before it: then nothing is recorded), or nil. Only one Run runs
// at a time.
func (c *Controller) Run(ctx context.Context, sink Sink) (err error) {
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return ErrClosed
	case c.ran != nil:
		c.mu.Unlock()
		return errors.New("run: already running")
	}
	c.stopRun, c.ran = stopRun, make(chan struct{})
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed {
			err = errors.Join(err, ErrClosed)
		}
		close(c.ran)
		c.stopRun, c.ran = nil, nil
	}()
	return c.run(runCtx, stopRun, sink)
}

// run is Run's recording; every goroutine it starts has ended when it
// returns.
//
// Two goroutines share the work: the pump only copies records out of the
// ring buffer, so the kernel's consumer position moves in quick bursts
// (each update costs the producing CPUs a cache miss), and this one decodes,
// attributes and writes.
func (c *Controller) run(runCtx context.Context, stopRun context.CancelFunc, sink Sink) error {
	c.exits, _ = sink.(ExitSink)
	// Wake the pump's blocked read when the run ends.
	woken := make(chan struct{})
	go func() {
		<-runCtx.Done()
		_ = c.tracer.Wake()
		close(woken)
	}()
	defer func() {
		stopRun()
		<-woken
	}()
	// Pod metadata: the watcher runs as long as the recording, and held
	// checks are looked at again when pods change and as their wait ends.
	var changed <-chan struct{}
	var recheck <-chan time.Time
	if c.watch != nil {
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			c.watch(runCtx)
		}()
		defer func() {
			stopRun()
			<-watched
		}()
		changed = c.meta.Changed()
		t := time.NewTicker(max(c.cfg.Kubernetes.MaxWait/4, 10*time.Millisecond))
		defer t.Stop()
		recheck = t.C
	}
	if c.selector != nil {
		selecting := make(chan struct{})
		go func() {
			defer close(selecting)
			c.selector.run(runCtx, c.log)
		}()
		defer func() {
			stopRun()
			<-selecting
		}()
	}
	var appear <-chan time.Time
	if len(c.tracer.MissingCgroups()) > 0 {
		t := time.NewTicker(cgroupPollInterval)
		defer t.Stop()
		appear = t.C
	}

	full := make(chan *rawBatch, rawBatches-1)
	free := make(chan *rawBatch, rawBatches)
	for range rawBatches {
		free <- newRawBatch()
	}
	pumpErr := make(chan error, 1)
	go func() {
		pumpErr <- c.pump(runCtx, full, free)
		close(full)
	}()

	tick := time.NewTicker(c.cfg.FlushInterval)
	defer tick.Stop()
	var sinkErr error
	for {
		select {
		case b, ok := <-full:
			if !ok {
				// The pump detached the programs and drained the ring
				// buffer: this flush is the last and loses nothing.
				if sinkErr == nil {
					sinkErr = c.periodic(sink, true)
				}
				return errors.Join(sinkErr, <-pumpErr)
			}
			if sinkErr == nil {
				sinkErr = c.process(b, sink)
			}
			b.reset()
			free <- b
		case <-tick.C:
			if sinkErr == nil {
				sinkErr = c.periodic(sink, false)
			}
		case <-changed:
			// Released checks go out at once: without new records the
			// next write could be a flush interval away.
			if c.releasePending(false) > 0 && sinkErr == nil {
				sinkErr = c.write(sink)
			}
		case <-recheck:
			if c.releasePending(false) > 0 && sinkErr == nil {
				sinkErr = c.write(sink)
			}
		case <-appear:
			if !c.addAppearedCgroups() {
				appear = nil
			}
		}
		if sinkErr == nil && len(c.batch) >= c.cfg.MaxBatch {
			sinkErr = c.write(sink)
		}
		if sinkErr != nil {
			stopRun() // the pump drains and stops; keep taking its batches
		}
	}
}

// process handles a batch of records, writing each full batch of checks,
// and what is left when the pump sent the batch at its deadline.
func (c *Controller) process(b *rawBatch, sink Sink) error {
	for raw := range b.records() {
		ev, err := tracer.Decode(raw)
		if err != nil {
			c.stats.undecodable.Add(1)
			c.log.Warn("skip ring-buffer record", "error", err)
			continue
		}
		c.handle(ev)
		if len(c.batch) >= c.cfg.MaxBatch {
			if err := c.write(sink); err != nil {
				return err
			}
		}
	}
	if b.deadline {
		return c.write(sink)
	}
	return nil
}

// periodic writes what waits, flushes unique counts and reports losses;
// final is the last call, after the ring buffer was drained.
func (c *Controller) periodic(sink Sink, final bool) error {
	if c.tracer.Mode() == tracer.Unique {
		if err := c.flushUnique(final); err != nil {
			c.log.Warn("unique-mode flush failed", "error", err)
		}
	}
	if final {
		// Everything still held goes out with what is known, the last
		// unique-mode counts too (emit may just have held them).
		c.releasePending(true)
	}
	c.checkLost()
	if c.cfg.Tracer.Audit == tracer.Audited {
		c.readNoauditSkipped()
	}
	if c.selector != nil {
		c.readUnselectedSkipped()
	}
	return c.write(sink)
}

// write hands the batch to the sink, at most MaxBatch checks at a time
// (released held checks can make it longer).
func (c *Controller) write(sink Sink) error {
	defer func() { c.batch = c.batch[:0] }()
	for rest := c.batch; len(rest) > 0; {
		n := min(len(rest), c.cfg.MaxBatch)
		if err := sink.Write(rest[:n]); err != nil {
			return fmt.Errorf("write checks: %w", err)
		}
		var checks uint64
		for i := range rest[:n] {
			checks += rest[i].Count
		}
		c.stats.records.Add(uint64(n))
		c.stats.checks.Add(checks)
		rest = rest[n:]
	}
	return nil
}

// addAppearedCgroups filters on the missing directories that exist now; it
// reports whether some are still missing.
func (c *Controller) addAppearedCgroups() bool {
	added, err := c.tracer.AddAppearedCgroups()
	if err != nil {
		c.log.Warn("cgroup filter directory appeared but cannot be filtered on", "error", err)
	}
	missing := c.tracer.MissingCgroups()
	if len(added) > 0 {
		c.log.Info("cgroup filter directories appeared: their filters apply now", "paths", added, "still_missing", missing)
	}
	if (len(added) > 0 || err != nil) && c.cfg.OnMissingCgroups != nil {
		c.cfg.OnMissingCgroups(missing)
	}
	return len(missing) > 0
}

func (c *Controller) checkLost() {
	l, err := c.tracer.Lost()
	if err != nil {
		c.log.Warn("read lost-event counter", "error", err)
		return
	}
	c.stats.lostChecks.Store(l.Checks)
	if n, before := l.Checks+l.ProcessEvents, c.stats.lost.Load(); n > before {
		c.stats.lost.Store(n)
		c.log.Warn("ring buffer full: events lost in the kernel", "lost", n-before, "lost_total", n,
			"lost_checks_total", l.Checks, "lost_process_events_total", l.ProcessEvents)
	}
}

func (c *Controller) readNoauditSkipped() {
	n, err := c.tracer.NoauditSkipped()
	if err != nil {
		c.log.Warn("read noaudit-skipped counters", "error", err)
		return
	}
	c.stats.noauditSkipped.Store(&n)
}

func (c *Controller) readUnselectedSkipped() {
	n, err := c.tracer.UnselectedSkipped()
	if err != nil {
		c.log.Warn("read unselected-skipped counters", "error", err)
		return
	}
	c.stats.unselectedSkipped.Store(&n)
}

// Close ends a running Run and waits for it (its last batch is written),
// then releases the kernel objects. Safe before, during and after Run, and
// twice; it must not be called from the sink, which Run waits for.
func (c *Controller) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		stopRun, ran := c.stopRun, c.ran
		c.mu.Unlock()
		if ran != nil {
			stopRun()
			<-ran
		}
		c.closeErr = c.tracer.Close()
	})
	return c.closeErr
}

// absCgroups makes cgroup paths absolute below the cgroup2 mount root. A
// path already below root is kept; any other is taken as relative to root
// ("/kubepods" or "kubepods"). A path that climbs out of root is an error.
func absCgroups(root string, paths []string) ([]string, error) {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		abs := filepath.Clean(p)
		if !within(root, abs) {
			abs = filepath.Join(root, abs)
		}
		if !within(root, abs) {
			return nil, fmt.Errorf("cgroup %q is outside the cgroup2 mount %s", p, root)
		}
		out = append(out, abs)
	}
	return out, nil
}

func within(root, path string) bool {
	return filepath.IsAbs(path) && (root == "/" || path == root || strings.HasPrefix(path, root+"/"))
}
