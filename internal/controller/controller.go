package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/capprof/capprof/internal/cgroup"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/kube"
	"github.com/capprof/capprof/internal/proc"
	"github.com/capprof/capprof/internal/tracer"
)

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
	// fills Tracer.PIDs, HostMountNS and NoauditRanges.
	CgroupInclude []string
	CgroupExclude []string
	// Kubernetes, when set, adds the metadata of the node's pods to the
	// checks of their containers.
	Kubernetes *KubernetesConfig
	Logger     *slog.Logger
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

// Validate reports the first invalid field, as a *kube.FieldError naming
// it when a shell can set it: the shells check these rules only here.
func (c *KubernetesConfig) Validate() error {
	if c.MaxWait <= 0 {
		return &kube.FieldError{Field: "MaxWait", Err: fmt.Errorf("must be positive, got %s", c.MaxWait)}
	}
	if c.MaxPending <= 0 {
		return &kube.FieldError{Field: "MaxPending", Err: fmt.Errorf("must be positive, got %d", c.MaxPending)}
	}
	return c.Watch.Validate()
}

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

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	if c.FlushInterval <= 0 {
		return fmt.Errorf("flush interval: must be positive, got %s", c.FlushInterval)
	}
	if c.MaxBatch <= 0 {
		return fmt.Errorf("max batch: must be positive, got %d", c.MaxBatch)
	}
	if c.MaxBatchDelay <= 0 {
		return fmt.Errorf("max batch delay: must be positive, got %s", c.MaxBatchDelay)
	}
	if len(c.CgroupInclude) > tracer.MaxCgroupFilters || len(c.CgroupExclude) > tracer.MaxCgroupFilters {
		return fmt.Errorf("cgroups: at most %d include and %d exclude subtrees", tracer.MaxCgroupFilters, tracer.MaxCgroupFilters)
	}
	if c.Kubernetes != nil {
		if err := c.Kubernetes.Validate(); err != nil {
			return fmt.Errorf("kubernetes: %w", err)
		}
	}
	return c.Tracer.Validate()
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
}

// Controller is one recording. It is not safe for concurrent Runs.
type Controller struct {
	cfg     Config
	log     *slog.Logger
	tracer  *tracer.Tracer
	procs   *proc.Cache
	cgroups *cgroup.Resolver
	unique  *uniqueTable
	stats   stats
	batch   []check.Check
	// meta and pending are set with Config.Kubernetes; watch runs meta.
	meta    podMetadata
	watch   func(context.Context)
	pending *pendingQueue
}

// stats is Stats as Run updates it while others read it.
type stats struct {
	events, records, checks, lost, lostChecks, evictedKeys, undecodable atomic.Uint64
	held, unbound, pending                                              atomic.Uint64
	noauditSkipped                                                      atomic.Pointer[tracer.CapCounts]
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
	procs := proc.NewCache(proc.Options{Node: cfg.HostName, ProcRoot: procRoot})
	if _, err := procs.Scan(); err != nil {
		return nil, fmt.Errorf("scan processes: %w", err)
	}

	tc := cfg.Tracer
	if tc.HostMountNS, err = hostMountNamespace(procRoot, log); err != nil {
		return nil, err
	}
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
	return st
}

// Run records until ctx is done, then detaches, drains the ring buffer,
// flushes unique-mode counts and writes the last batch. It returns the
// first sink error, or nil.
//
// Two goroutines share the work: the pump only copies records out of the
// ring buffer, so the kernel's consumer position moves in quick bursts
// (each update costs the producing CPUs a cache miss), and this one decodes,
// attributes and writes.
func (c *Controller) Run(ctx context.Context, sink Sink) error {
	runCtx, stopRun := context.WithCancel(ctx)
	// Wake the pump's blocked read when the run ends; joined before Run
	// returns, so that it never races the caller's Close.
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

// Close releases the kernel objects. Safe after Run and twice.
func (c *Controller) Close() error {
	return c.tracer.Close()
}

// hostMountNamespace returns the inode of the host's mount namespace:
// processes that share it are host processes. That is pid 1's; where pid 1
// may not be inspected (a sandbox's init), kthreadd's (pid 2 in the host's
// pid namespace), which is the kernel's initial mount namespace; else our
// own stands in for it.
func hostMountNamespace(procRoot string, log *slog.Logger) (uint32, error) {
	ino, err := nsInode(filepath.Join(procRoot, "1", "ns", "mnt"))
	if err == nil {
		return ino, nil
	}
	if comm, cerr := os.ReadFile(filepath.Join(procRoot, "2", "comm")); cerr == nil && string(comm) == "kthreadd\n" {
		if ino, kerr := nsInode(filepath.Join(procRoot, "2", "ns", "mnt")); kerr == nil {
			log.Debug("pid 1's mount namespace is unreadable; using kthreadd's as the host's", "error", err)
			return ino, nil
		}
	}
	log.Debug("pid 1's and kthreadd's mount namespaces are unreadable; using ours as the host's", "error", err)
	if ino, err = nsInode(filepath.Join(procRoot, "self", "ns", "mnt")); err != nil {
		return 0, fmt.Errorf("read host mount namespace: %w", err)
	}
	return ino, nil
}

func nsInode(path string) (uint32, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("%s: no inode", path)
	}
	return uint32(st.Ino), nil
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
