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
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/capprof/capprof/checklogs"
	"github.com/capprof/capprof/internal/config"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/kube"
	"github.com/capprof/capprof/internal/output"
	"github.com/capprof/capprof/internal/selection"
	"github.com/capprof/capprof/internal/tracer"
)

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// recordFlags are record's flags. Those of a recording's settings write
// into cfg and kube, so their defaults are the controller's and their
// rules its: the flags only name the fields.
type recordFlags struct {
	format, outputPath, otlpEndpoint string
	duration                         time.Duration
	verbose                          bool
	cfg                              controller.Config
	kube                             controller.KubernetesConfig
	kubeconfig, nodeName, kubeLabels string
	namespace, pod, selector         string
}

func newRecordFlags(fs *flag.FlagSet) *recordFlags {
	f := &recordFlags{cfg: controller.DefaultConfig(), kube: controller.DefaultKubernetesConfig("")}
	t := &f.cfg.Tracer
	fs.StringVar(&f.format, "format", "pretty", "output format: pretty, json or otlp-json")
	fs.StringVar(&f.outputPath, "output", "", "write to `FILE` instead of standard output")
	fs.StringVar(&f.otlpEndpoint, "otlp-endpoint", "", "export through OTLP gRPC to `HOST:PORT` (OTEL_EXPORTER_OTLP_* variables apply)")
	fs.TextVar(&t.Mode, "mode", t.Mode, "stream (one record per check) or unique (first check per key, then counts)")
	fs.DurationVar(&f.cfg.FlushInterval, "flush-interval", f.cfg.FlushInterval, "how often counts are flushed and the ring buffer drained")
	fs.TextVar(&t.Verdict, "verdict", t.Verdict, "keep all, denied or granted checks")
	t.Audit = controller.ShellAudit
	fs.TextVar(&t.Audit, "audit", t.Audit, "audited (drop NOAUDIT checks in the kernel, counting them) or all")
	fs.TextVar(&t.Caps, "caps", t.Caps, "keep only these capabilities (`LIST`: CAP_SYSLOG,sys_admin,21)")
	fs.Func("pid", "record only process `N` and its descendants", func(s string) error {
		n, err := strconv.ParseUint(s, 10, 32)
		f.cfg.PIDTree = uint32(n)
		return err
	})
	fs.Var((*listFlag)(&f.cfg.CgroupInclude), "cgroup", "record only this cgroup v2 `PATH`'s subtree (repeatable)")
	fs.Var((*listFlag)(&f.cfg.CgroupExclude), "exclude-cgroup", "skip this cgroup v2 `PATH`'s subtree (repeatable)")
	fs.BoolVar(&t.IncludeHost, "host", t.IncludeHost, "record host processes (those in pid 1's mount namespace)")
	fs.TextVar(&t.Method, "attach", t.Method, "attach method: auto, tp_btf, raw_tracepoint, tracepoint, fexit or kprobe")
	fs.DurationVar(&f.duration, "duration", 0, "stop after `D` of recording, counted from the attach (0: until SIGINT or SIGTERM)")
	fs.IntVar(&t.RingBufferSize, "ring-buffer-size", t.RingBufferSize, "ring buffer size in bytes (a power of two)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "add Kubernetes pod metadata, reading the API server's address and credentials from `FILE`")
	fs.StringVar(&f.nodeName, "node-name", "", "add the metadata of node `NAME`'s pods (default $NODE_NAME, else the host name, with --kubeconfig); without --kubeconfig, in-cluster credentials are used")
	fs.StringVar(&f.kubeLabels, "kube-labels", "none", "pod labels added as k8s.pod.label.<key>: all, none or a `LIST` of keys")
	fs.DurationVar(&f.kube.MaxWait, "kube-max-wait", f.kube.MaxWait, "hold a starting pod's checks up to `D` for its metadata")
	fs.IntVar(&f.kube.MaxPending, "kube-max-pending", f.kube.MaxPending, "hold at most `N` checks for their pod's metadata")
	fs.StringVar(&f.namespace, "namespace", "", "record only the pods of namespace `NS` on this node (all of them, or those --pod or --selector names), following them as they come and go; needs the API server (--kubeconfig, or in-cluster credentials)")
	fs.StringVar(&f.pod, "pod", "", "with --namespace: record only the pod `NAME`")
	fs.StringVar(&f.selector, "selector", "", "with --namespace: record only the pods whose labels match `K=V[,K2=V2]` (a label selector)")
	fs.BoolVar(&f.verbose, "v", false, "log debug messages")
	return f
}

func runRecord(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("record", flag.ContinueOnError)
	f := newRecordFlags(fs)
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
	// --duration is recording time: it starts once the program is attached,
	// however long loading took.
	cfg.Logger.Info("recording", "method", ctl.Method(), "duration", f.duration)
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}

	runErr := ctl.Run(ctx, sink)
	closeErr := sink.Close()
	s := ctl.Stats()
	cfg.Logger.Info("recording stopped", "method", ctl.Method(), "records", s.Records, "checks", s.Checks,
		"lost_events", s.Lost, "evicted_keys", s.EvictedKeys, "held_for_pod_metadata", s.Held, "unbound", s.Unbound)
	if cfg.Tracer.Audit == tracer.Audited {
		cfg.Logger.Info("NOAUDIT checks skipped in the kernel", "total", s.NoauditSkipped.Total(), "per_capability", &s.NoauditSkipped)
	}
	if cfg.Selection != nil {
		cfg.Logger.Info("checks outside the selection skipped", "total", s.UnselectedSkipped.Total(), "per_capability", &s.UnselectedSkipped)
	}
	if s.Lost > 0 {
		fmt.Fprintf(stderr, "capprof record: %d events were lost in the kernel (ring buffer full), %d of them checks; raise --ring-buffer-size or use --mode unique\n", s.Lost, s.LostChecks)
	}
	return errors.Join(runErr, closeErr)
}

// flagNames names the controller's fields by the flags that set them
// (auth follows from --kubeconfig, so it has none).
var flagNames = map[string]string{
	"FlushInterval":  "--flush-interval",
	"MaxBatchDelay":  "--flush-interval",
	"CgroupInclude":  "--cgroup",
	"CgroupExclude":  "--exclude-cgroup",
	"PIDTree":        "--pid",
	"Method":         "--attach",
	"Mode":           "--mode",
	"Verdict":        "--verdict",
	"Audit":          "--audit",
	"RingBufferSize": "--ring-buffer-size",
	"Kubeconfig":     "--kubeconfig",
	"NodeName":       "--node-name",
	"MaxWait":        "--kube-max-wait",
	"MaxPending":     "--kube-max-pending",
}

// config returns the controller configuration the flags set, checked;
// errors name the flag.
func (f *recordFlags) config() (controller.Config, output.Format, error) {
	cfg := f.cfg
	format, err := output.ParseFormat(f.format)
	if err != nil {
		return cfg, "", fmt.Errorf("--format: %w", err)
	}
	if f.otlpEndpoint != "" && f.outputPath != "" {
		return cfg, "", errors.New("--otlp-endpoint and --output are exclusive")
	}
	if f.duration < 0 {
		return cfg, "", fmt.Errorf("--duration: must not be negative, got %s", f.duration)
	}
	cfg.MaxBatchDelay = cfg.FlushInterval
	if cfg.Kubernetes, err = f.kubernetes(); err != nil {
		return cfg, "", err
	}
	if cfg.Selection, err = f.selection(); err != nil {
		return cfg, "", err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, "", config.RenameField(err, flagNames)
	}
	return cfg, format, nil
}

// kubernetes returns the pod metadata configuration: on with --kubeconfig
// or --node-name, else nil.
func (f *recordFlags) kubernetes() (*controller.KubernetesConfig, error) {
	if f.kubeconfig == "" && f.nodeName == "" && f.namespace == "" {
		return nil, nil
	}
	k := f.kube
	k.Watch.NodeName = f.nodeName
	if k.Watch.NodeName == "" {
		k.Watch.NodeName = os.Getenv("NODE_NAME")
	}
	if k.Watch.NodeName == "" {
		// The kubelet's default node name.
		host, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("--node-name: not given and the host name is unknown: %w", err)
		}
		k.Watch.NodeName = strings.ToLower(host)
	}
	if f.kubeconfig != "" {
		k.Watch.Auth, k.Watch.Kubeconfig = kube.AuthKubeconfig, f.kubeconfig
	}
	var err error
	if k.Watch.Labels, err = kube.ParseLabels(f.kubeLabels); err != nil {
		return nil, fmt.Errorf("--kube-labels: %w", err)
	}
	return &k, nil
}

// selection returns the live selection --namespace, --pod and --selector
// ask for, or nil.
func (f *recordFlags) selection() (*controller.SelectionConfig, error) {
	if f.namespace == "" {
		if f.pod != "" || f.selector != "" {
			return nil, errors.New("--pod and --selector need --namespace")
		}
		return nil, nil
	}
	if f.pod != "" && f.selector != "" {
		return nil, errors.New("--pod and --selector are exclusive")
	}
	rule := selection.Rule{Namespace: f.namespace, PodName: f.pod}
	if f.selector != "" {
		sel, err := labels.Parse(f.selector)
		if err != nil {
			return nil, fmt.Errorf("--selector: %w", err)
		}
		rule.Selector = sel
	}
	return &controller.SelectionConfig{Default: selection.RecordSelected, Rules: []selection.Rule{rule}}, nil
}

// openSink opens the OTLP exporter or the file-like writer.
func (f *recordFlags) openSink(format output.Format, stdout io.Writer) (output.Writer, error) {
	if f.otlpEndpoint != "" {
		// Not ctx: the exporter must outlive the recording to flush at Close.
		return output.NewOTLP(context.Background(), f.otlpEndpoint, versionString())
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
	var out output.Writer
	var err error
	if format == output.FormatOTLPJSON {
		out = checklogs.NewJSONWriter(w, versionString())
	} else if out, err = output.New(format, w); err != nil {
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
