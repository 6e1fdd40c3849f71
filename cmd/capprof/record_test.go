package main

import (
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/capprof/capprof/internal/caps"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/kube"
	"github.com/capprof/capprof/internal/selection"
	"github.com/capprof/capprof/internal/tracer"
)

// recordConfig parses record's flags and returns the configuration.
func recordConfig(args ...string) (controller.Config, error) {
	fs := flag.NewFlagSet("record", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := newRecordFlags(fs)
	if err := fs.Parse(args); err != nil {
		return controller.Config{}, err
	}
	cfg, _, err := f.config()
	return cfg, err
}

func TestRecordFlagsSetTheConfig(t *testing.T) {
	cfg, err := recordConfig("--mode", "unique", "--verdict", "denied", "--attach", "fexit", "--caps", "sys_admin,21,net_raw",
		"--flush-interval", "3s", "--pid", "42", "--cgroup", "/a", "--cgroup", "/b", "--exclude-cgroup", "/a/c",
		"--host=false", "--ring-buffer-size", "65536")
	if err != nil {
		t.Fatal(err)
	}
	want := controller.DefaultConfig()
	tc := &want.Tracer
	tc.Mode, tc.Verdict, tc.Method, tc.Audit = tracer.Unique, tracer.Denied, tracer.Fexit, tracer.Audited
	tc.Caps = caps.Set(0).With(21).With(13)
	tc.IncludeHost, tc.RingBufferSize = false, 65536
	want.FlushInterval, want.MaxBatchDelay, want.PIDTree = 3*time.Second, 3*time.Second, 42
	want.CgroupInclude, want.CgroupExclude = []string{"/a", "/b"}, []string{"/a/c"}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got %+v\nwant %+v", cfg, want)
	}
}

func TestRecordFlagsDefaultsAreTheControllers(t *testing.T) {
	cfg, err := recordConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := controller.DefaultConfig()
	want.MaxBatchDelay = want.FlushInterval
	want.Tracer.Audit = tracer.Audited // record's own default: the README's "Defaults: audit and mode"
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got %+v\nwant %+v", cfg, want)
	}
}

// TestRecordFlagsNameTheField checks that an error of the controller's
// rules, or of a typed value's decoding, names the flag: one row per flag;
// the rules themselves are the controller's to test.
func TestRecordFlagsNameTheField(t *testing.T) {
	var included, excluded []string
	for range 9 {
		included = append(included, "--cgroup", "/x")
		excluded = append(excluded, "--exclude-cgroup", "/x")
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "mode", args: []string{"--mode", "batch"}, want: `invalid value "batch" for flag -mode: "batch" is not stream or unique`},
		{name: "verdict", args: []string{"--verdict", "deny"}, want: `invalid value "deny" for flag -verdict:`},
		{name: "attach", args: []string{"--attach", "uprobe"}, want: `invalid value "uprobe" for flag -attach:`},
		{name: "caps", args: []string{"--caps", " , "}, want: `invalid value " , " for flag -caps: the list names no capability`},
		{name: "pid out of range", args: []string{"--pid", "4294967296"}, want: `invalid value "4294967296" for flag -pid:`},
		{name: "pid", args: []string{"--pid", "4194304"}, want: "--pid: 4194304 is not a pid"},
		{name: "flush interval", args: []string{"--flush-interval", "0s"}, want: "--flush-interval: must be positive"},
		{name: "ring buffer", args: []string{"--ring-buffer-size", "5000"}, want: "--ring-buffer-size: 5000 is not a power of two"},
		{name: "cgroups", args: included, want: "--cgroup: at most 8 subtrees, got 9"},
		{name: "excluded cgroups", args: excluded, want: "--exclude-cgroup: at most 8 subtrees, got 9"},
		{name: "kube max wait", args: []string{"--node-name", "n", "--kube-max-wait", "0s"}, want: "--kube-max-wait: must be positive"},
		{name: "kube max pending", args: []string{"--node-name", "n", "--kube-max-pending", "0"}, want: "--kube-max-pending: must be positive"},
		{name: "kube labels", args: []string{"--node-name", "n", "--kube-labels", "all,app"}, want: "--kube-labels:"},
		{name: "pod without namespace", args: []string{"--pod", "xwing"}, want: "--pod and --selector need --namespace"},
		{name: "selector without namespace", args: []string{"--selector", "class=xwing"}, want: "--pod and --selector need --namespace"},
		{name: "pod and selector", args: []string{"--namespace", "default", "--pod", "xwing", "--selector", "class=xwing"},
			want: "--pod and --selector are exclusive"},
		{name: "selector", args: []string{"--namespace", "default", "--selector", "class in xwing"}, want: "--selector:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := recordConfig(tt.args...)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error starting %q", err, tt.want)
			}
		})
	}
}

func TestRecordKubernetesFlags(t *testing.T) {
	t.Setenv("NODE_NAME", "from-env")
	tests := []struct {
		name     string
		args     []string
		off      bool
		auth     kube.Auth
		node     string
		labels   string
		maxWait  time.Duration
		maxHeld  int
		kubeconf string
	}{
		{name: "off without --kubeconfig and --node-name", args: []string{"--kube-labels", "all"}, off: true},
		{
			name: "kubeconfig, node from NODE_NAME",
			args: []string{"--kubeconfig", "/k", "--kube-labels", "app,tier", "--kube-max-wait", "1s", "--kube-max-pending", "7"},
			auth: kube.AuthKubeconfig, node: "from-env", labels: "app,tier", maxWait: time.Second, maxHeld: 7, kubeconf: "/k",
		},
		{
			name: "node name alone is in-cluster, with the controller's defaults",
			args: []string{"--node-name", "node-3"},
			auth: kube.AuthServiceAccount, node: "node-3", labels: "none", maxWait: 5 * time.Second, maxHeld: 10000,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := recordConfig(tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			k := cfg.Kubernetes
			if tt.off {
				if k != nil {
					t.Fatalf("kubernetes on: %+v", k)
				}
				return
			}
			w := k.Watch
			if w.Auth != tt.auth || w.NodeName != tt.node || w.Labels.String() != tt.labels || w.Kubeconfig != tt.kubeconf ||
				k.MaxWait != tt.maxWait || k.MaxPending != tt.maxHeld {
				t.Errorf("got %+v / %+v", k, w)
			}
		})
	}
}

func TestRecordSelectionFlags(t *testing.T) {
	t.Setenv("NODE_NAME", "node-1")
	tests := []struct {
		name string
		args []string
		want string // the rule, as it names itself
	}{
		{name: "a namespace", args: []string{"--namespace", "default"}, want: "namespace default"},
		{name: "a pod", args: []string{"--namespace", "default", "--pod", "xwing"}, want: "namespace default pod xwing"},
		{name: "a selector", args: []string{"--namespace", "default", "--selector", "class=xwing,org in (alliance)"},
			want: "namespace default selector class=xwing,org in (alliance)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := recordConfig(tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			sel := cfg.Selection
			if sel == nil || cfg.Kubernetes == nil || cfg.Kubernetes.Watch.NodeName != "node-1" {
				t.Fatalf("selection %+v, kubernetes %+v", sel, cfg.Kubernetes)
			}
			if sel.Default != selection.RecordSelected || sel.Recordings || len(sel.Rules) != 1 || sel.Rules[0].String() != tt.want {
				t.Errorf("selection %+v, rule %q; want only the rule %q, nothing else recorded", sel, sel.Rules, tt.want)
			}
		})
	}
}
