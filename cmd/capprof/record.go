package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/kube"
	"github.com/capprof/capprof/internal/output"
	"github.com/capprof/capprof/internal/tracer"
)

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type recordFlags struct {
	format, outputPath, otlpEndpoint string
	mode, verdict, capsList, attach  string
	audit                            tracer.Audit
	flushInterval, duration          time.Duration
	pid                              uint
	cgroups, excludeCgroups          listFlag
	host, verbose                    bool
	ringBufferSize                   uint
	kubeconfig, nodeName, kubeLabels string
	kubeMaxWait                      time.Duration
	kubeMaxPending                   int
}

func runRecord(args []string, stdout, stderr io.Writer) error {
	var f recordFlags
	fs := flag.NewFlagSet("record", flag.ContinueOnError)
	fs.StringVar(&f.format, "format", "pretty", "output format: pretty, json or otlp-json")
	fs.StringVar(&f.outputPath, "output", "", "write to `FILE` instead of standard output")
	fs.StringVar(&f.otlpEndpoint, "otlp-endpoint", "", "export through OTLP gRPC to `HOST:PORT` (OTEL_EXPORTER_OTLP_* variables apply)")
	fs.StringVar(&f.mode, "mode", "stream", "stream (one record per check) or unique (first check per key, then counts)")
	fs.DurationVar(&f.flushInterval, "flush-interval", time.Second, "how often counts are flushed and the ring buffer drained")
	fs.StringVar(&f.verdict, "verdict", "all", "keep all, denied or granted checks")
	fs.TextVar(&f.audit, "audit", tracer.Audited, "audited (drop NOAUDIT checks in the kernel, counting them) or all")
	fs.StringVar(&f.capsList, "caps", "", "keep only these capabilities (`LIST`: CAP_SYSLOG,sys_admin,21)")
	fs.UintVar(&f.pid, "pid", 0, "record only process `N` and its descendants")
	fs.Var(&f.cgroups, "cgroup", "record only this cgroup v2 `PATH`'s subtree (repeatable)")
	fs.Var(&f.excludeCgroups, "exclude-cgroup", "skip this cgroup v2 `PATH`'s subtree (repeatable)")
	fs.BoolVar(&f.host, "host", true, "record host processes (those in pid 1's mount namespace)")
	fs.StringVar(&f.attach, "attach", "auto", "attach method: auto, tp_btf, raw_tracepoint, tracepoint, fexit or kprobe")
	fs.DurationVar(&f.duration, "duration", 0, "stop after `D` (0: until SIGINT or SIGTERM)")
	fs.UintVar(&f.ringBufferSize, "ring-buffer-size", 4<<20, "ring buffer size in bytes (a power of two)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "add Kubernetes pod metadata, reading the API server's address and credentials from `FILE`")
	fs.StringVar(&f.nodeName, "node-name", "", "add the metadata of node `NAME`'s pods (default $NODE_NAME, else the host name, with --kubeconfig); without --kubeconfig, in-cluster credentials are used")
	fs.StringVar(&f.kubeLabels, "kube-labels", "none", "pod labels added as k8s.pod.label.<key>: all, none or a `LIST` of keys")
	fs.DurationVar(&f.kubeMaxWait, "kube-max-wait", 5*time.Second, "hold a starting pod's checks up to `D` for its metadata")
	fs.IntVar(&f.kubeMaxPending, "kube-max-pending", 10000, "hold at most `N` checks for their pod's metadata")
	fs.BoolVar(&f.verbose, "v", false, "log debug messages")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: capprof record [flags]\n\nRecords capability checks until interrupted or --duration passes.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	cfg, format, err := f.config()
	if err != nil {
		return usageError{err}
	}
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	if _, err := tracer.CheckPrivileges(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}

	sink, err := f.openSink(format, stdout)
	if err != nil {
		return err
	}
	ctl, err := controller.New(cfg)
	if err != nil {
		sink.Close()
		return err
	}
	defer ctl.Close()

	runErr := ctl.Run(ctx, sink)
	closeErr := sink.Close()
	s := ctl.Stats()
	cfg.Logger.Info("recording stopped", "method", ctl.Method(), "records", s.Records, "checks", s.Checks,
		"lost_events", s.Lost, "evicted_keys", s.EvictedKeys, "held_for_pod_metadata", s.Held, "unbound", s.Unbound)
	if cfg.Tracer.Audit == tracer.Audited {
		cfg.Logger.Info("NOAUDIT checks skipped in the kernel", "total", s.NoauditSkipped.Total(), "per_capability", &s.NoauditSkipped)
	}
	if s.Lost > 0 {
		fmt.Fprintf(stderr, "capprof record: %d events were lost in the kernel (ring buffer full), %d of them checks; raise --ring-buffer-size or use --mode unique\n", s.Lost, s.LostChecks)
	}
	return errors.Join(runErr, closeErr)
}

// config turns the flags into a controller configuration.
func (f *recordFlags) config() (controller.Config, output.Format, error) {
	cfg := controller.DefaultConfig()
	var err error
	format, err := output.ParseFormat(f.format)
	if err != nil {
		return cfg, "", fmt.Errorf("--format: %w", err)
	}
	if f.otlpEndpoint != "" && f.outputPath != "" {
		return cfg, "", errors.New("--otlp-endpoint and --output are exclusive")
	}
	t := &cfg.Tracer
	if t.Mode, err = tracer.ParseMode(f.mode); err != nil {
		return cfg, "", fmt.Errorf("--mode: %w", err)
	}
	if t.Verdict, err = tracer.ParseVerdict(f.verdict); err != nil {
		return cfg, "", fmt.Errorf("--verdict: %w", err)
	}
	if t.Method, err = tracer.ParseMethod(f.attach); err != nil {
		return cfg, "", fmt.Errorf("--attach: %w", err)
	}
	if f.capsList != "" {
		if t.Caps, err = caps.ParseSet(f.capsList); err != nil {
			return cfg, "", fmt.Errorf("--caps: %w", err)
		}
		if t.Caps == 0 {
			return cfg, "", errors.New("--caps: the list is empty")
		}
	}
	if f.flushInterval <= 0 {
		return cfg, "", fmt.Errorf("--flush-interval: must be positive, got %s", f.flushInterval)
	}
	if f.duration < 0 {
		return cfg, "", fmt.Errorf("--duration: must not be negative, got %s", f.duration)
	}
	if f.pid > 1<<22 {
		return cfg, "", fmt.Errorf("--pid: %d is not a pid", f.pid)
	}
	if f.ringBufferSize > 1<<30 {
		return cfg, "", fmt.Errorf("--ring-buffer-size: %d is over 1 GiB", f.ringBufferSize)
	}
	t.Audit = f.audit
	t.RingBufferSize = uint32(f.ringBufferSize)
	t.IncludeHost = f.host
	cfg.FlushInterval = f.flushInterval
	cfg.MaxBatchDelay = f.flushInterval
	cfg.PIDTree = uint32(f.pid)
	cfg.CgroupInclude = f.cgroups
	cfg.CgroupExclude = f.excludeCgroups
	if cfg.Kubernetes, err = f.kubernetes(); err != nil {
		return cfg, "", err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, "", err
	}
	return cfg, format, nil
}

// kubernetesFlags names the controller's Kubernetes fields by the flags
// that set them (auth follows from --kubeconfig, so it has none).
var kubernetesFlags = map[string]string{
	"Kubeconfig": "--kubeconfig",
	"NodeName":   "--node-name",
	"MaxWait":    "--kube-max-wait",
	"MaxPending": "--kube-max-pending",
}

// kubernetes returns the pod metadata configuration: on with --kubeconfig
// or --node-name, else nil.
func (f *recordFlags) kubernetes() (*controller.KubernetesConfig, error) {
	if f.kubeconfig == "" && f.nodeName == "" {
		return nil, nil
	}
	node := f.nodeName
	if node == "" {
		node = os.Getenv("NODE_NAME")
	}
	if node == "" {
		// The kubelet's default node name.
		host, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("--node-name: not given and the host name is unknown: %w", err)
		}
		node = strings.ToLower(host)
	}
	k := controller.DefaultKubernetesConfig(node)
	if f.kubeconfig != "" {
		k.Watch.Auth, k.Watch.Kubeconfig = kube.AuthKubeconfig, f.kubeconfig
	}
	var err error
	if k.Watch.Labels, err = kube.ParseLabels(f.kubeLabels); err != nil {
		return nil, fmt.Errorf("--kube-labels: %w", err)
	}
	k.MaxWait, k.MaxPending = f.kubeMaxWait, f.kubeMaxPending
	if err := k.Validate(); err != nil {
		return nil, kube.RenameField(fmt.Errorf("kubernetes: %w", err), kubernetesFlags)
	}
	return &k, nil
}

// openSink opens the OTLP exporter or the file-like writer.
func (f *recordFlags) openSink(format output.Format, stdout io.Writer) (output.Writer, error) {
	if f.otlpEndpoint != "" {
		// Not ctx: the exporter must outlive the recording to flush at Close.
		return output.NewOTLP(context.Background(), f.otlpEndpoint)
	}
	w := stdout
	var file *os.File
	if f.outputPath != "" {
		var err error
		if file, err = os.OpenFile(f.outputPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err != nil {
			return nil, fmt.Errorf("open output: %w", err)
		}
		w = file
	}
	out, err := output.New(format, w)
	if err != nil {
		if file != nil {
			file.Close()
		}
		return nil, err
	}
	if file == nil {
		return out, nil
	}
	return fileWriter{out, file}, nil
}

// fileWriter closes the file after the writer has flushed into it.
type fileWriter struct {
	output.Writer
	file *os.File
}

func (w fileWriter) Close() error {
	return errors.Join(w.Writer.Close(), w.file.Close())
}
