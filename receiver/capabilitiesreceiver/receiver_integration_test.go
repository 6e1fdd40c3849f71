//go:build integration

package capabilitiesreceiver

import (
	"context"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capprof/capprof/internal/kube"
	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/testenv"
	"github.com/capprof/capprof/receiver/capabilitiesreceiver/internal/metadatatest"
)

// TestRealCheckArrivesAsLogRecord runs the receiver made by its factory on
// the real kernel and makes dmesg fail as nobody in a cgroup of the test's.
func TestRealCheckArrivesAsLogRecord(t *testing.T) {
	prereq.RequireRoot(t)
	prereq.RequireCommands(t, "setpriv", "dmesg")
	cg := testenv.NewCgroup(t)
	cfg := createDefaultConfig()
	cfg.Cgroups.Include = []string{cg.Rel}
	cfg.MaxBatchDelay = 100 * time.Millisecond
	sink := new(consumertest.LogsSink)
	tt := componenttest.NewTelemetry()
	defer tt.Shutdown(context.Background())
	r, err := NewFactory().CreateLogs(context.Background(), metadatatest.NewSettings(tt), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	// Start returns before the program is attached: wait for it.
	require.Eventually(t, func() bool { return r.(*capabilitiesReceiver).rec.Load() != nil }, 10*time.Second, 10*time.Millisecond)

	cmd := cg.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "dmesg")
	_ = cmd.Run()
	require.NoError(t, r.Shutdown(context.Background()))

	host, _ := os.Hostname()
	found, resource := syslogRecordOf(sink, cmd.Process.Pid)
	require.NotEqual(t, plog.LogRecord{}, found, "no CAP_SYSLOG record of dmesg pid %d", cmd.Process.Pid)

	// The resource is the host, the process and the user namespace it
	// checked in; the record, the check.
	res := resource.Attributes().AsRaw()
	for k, v := range map[string]any{
		"host.name":                    host,
		"process.pid":                  int64(cmd.Process.Pid),
		"process.executable.path":      "/usr/bin/dmesg",
		"process.user.id":              int64(65534),
		"linux.cgroup.path":            cg.Rel,
		"linux.user_namespace.level":   int64(0),
		"linux.user_namespace.is_host": true,
	} {
		assert.Equal(t, v, res[k], k)
	}
	assert.NotContains(t, res, "container.id", "a host process's resource")
	attrs := found.Attributes().AsRaw()
	for k, v := range map[string]any{
		"linux.capability.id":      int64(34),
		"linux.capability.verdict": "denied",
		"linux.capability.audit":   true,
	} {
		assert.Equal(t, v, attrs[k], k)
	}
	assert.Equal(t, "linux.capability.check", found.EventName())
	assert.Equal(t, plog.SeverityNumberWarn, found.SeverityNumber())
	assert.Equal(t, "CAP_SYSLOG denied to /usr/bin/dmesg", found.Body().Str())
	assert.Positive(t, metricSum(t, tt, "otelcol_receiver_accepted_log_records"))
}

// syslogRecordOf finds the CAP_SYSLOG record of pid and its resource.
func syslogRecordOf(sink *consumertest.LogsSink, pid int) (plog.LogRecord, pcommon.Resource) {
	for _, logs := range sink.AllLogs() {
		for i := 0; i < logs.ResourceLogs().Len(); i++ {
			rl := logs.ResourceLogs().At(i)
			records := rl.ScopeLogs().At(0).LogRecords()
			for j := 0; j < records.Len(); j++ {
				lr := records.At(j)
				name, _ := lr.Attributes().Get("linux.capability.name")
				p, _ := rl.Resource().Attributes().Get("process.pid")
				if name.Str() == "CAP_SYSLOG" && p.Int() == int64(pid) {
					return lr, rl.Resource()
				}
			}
		}
	}
	return plog.LogRecord{}, pcommon.Resource{}
}

// TestStartsBeforeTheIncludeDirectoryExists starts the receiver with a
// cgroups.include directory that does not exist yet, as an agent started
// before the kubelet made /kubepods: it reports so as a recoverable error,
// then OK once the directory is made, and records the checks made there.
func TestStartsBeforeTheIncludeDirectoryExists(t *testing.T) {
	prereq.RequireRoot(t)
	prereq.RequireCommands(t, "setpriv", "dmesg")
	cg := testenv.NewCgroup(t)
	later := cg.Child(t, "kubepods")
	cfg := createDefaultConfig()
	cfg.Cgroups.Include = []string{later.Rel}
	cfg.MaxBatchDelay = 100 * time.Millisecond
	sink := new(consumertest.LogsSink)
	tt := componenttest.NewTelemetry()
	defer tt.Shutdown(context.Background())
	r, err := NewFactory().CreateLogs(context.Background(), metadatatest.NewSettings(tt), cfg, sink)
	require.NoError(t, err)
	host := &statusHost{Host: componenttest.NewNopHost()}
	require.NoError(t, r.Start(context.Background(), host))
	defer r.Shutdown(context.Background())
	lastStatus := func() *componentstatus.Event {
		host.mu.Lock()
		defer host.mu.Unlock()
		if len(host.events) == 0 {
			return nil
		}
		return host.events[len(host.events)-1]
	}

	require.Eventually(t, func() bool { return lastStatus() != nil }, time.Minute, 10*time.Millisecond, "no status")
	missing := lastStatus()
	require.Equal(t, componentstatus.StatusRecoverableError, missing.Status(), "%v", missing.Err())
	assert.ErrorContains(t, missing.Err(), later.Path+" do not exist yet")

	require.NoError(t, os.Mkdir(later.Path, 0o755))
	require.Eventually(t, func() bool { return lastStatus().Status() == componentstatus.StatusOK }, time.Minute, 10*time.Millisecond,
		"no OK once the directory exists")
	cmd := later.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "dmesg")
	_ = cmd.Run()
	require.NoError(t, r.Shutdown(context.Background()))
	found, resource := syslogRecordOf(sink, cmd.Process.Pid)
	require.NotEqual(t, plog.LogRecord{}, found, "no CAP_SYSLOG record of dmesg pid %d in the directory made after Start", cmd.Process.Pid)
	path, _ := resource.Attributes().Get("linux.cgroup.path")
	assert.Equal(t, later.Rel, path.Str())
}

// TestPodMetadataAndAPIServerState runs the receiver with the kubernetes
// block against a real API server, as the agent's ServiceAccount, on a
// real container: its records carry the pod's metadata, the API server
// going away is a recoverable error while records keep their metadata, and
// its return is reported OK.
func TestPodMetadataAndAPIServerState(t *testing.T) {
	prereq.RequireRoot(t)
	k := testenv.StartKube(t)
	cd := testenv.StartContainerd(t)
	ctx := context.Background()
	k.CreateNamespace("shop")
	pod, err := k.Client.CoreV1().Pods("shop").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "app", Image: "busybox:1.37"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	ctr := cd.RunContainerInPod(string(pod.UID))
	k.SetContainersRunning("shop", "web", map[string]string{"app": ctr.ID})

	cfg := createDefaultConfig()
	cfg.Cgroups.Include = []string{cd.Kubepods()}
	cfg.MaxBatchDelay = 100 * time.Millisecond
	cfg.Kubernetes = KubernetesConfig{Enabled: true, AuthType: "kubeConfig", Kubeconfig: k.AgentKubeconfig(kube.PolicyRules()),
		NodeName: "node-1", Labels: []string{"app"}, MaxWait: 10 * time.Second, MaxPending: 1000}
	sink := new(consumertest.LogsSink)
	tt := componenttest.NewTelemetry()
	defer tt.Shutdown(ctx)
	r, err := NewFactory().CreateLogs(ctx, metadatatest.NewSettings(tt), cfg, sink)
	require.NoError(t, err)
	host := &statusHost{Host: componenttest.NewNopHost()}
	require.NoError(t, r.Start(ctx, host))
	defer r.Shutdown(ctx)
	statusAfter := func(n int, want componentstatus.Status) int {
		t.Helper()
		var at int
		require.Eventually(t, func() bool {
			host.mu.Lock()
			defer host.mu.Unlock()
			for i := n; i < len(host.events); i++ {
				if host.events[i].Status() == want {
					at = i + 1
					return true
				}
			}
			return false
		}, time.Minute, 20*time.Millisecond, "status %v not reported", want)
		return at
	}
	dmesgResource := func() map[string]any {
		t.Helper()
		before := sink.LogRecordCount()
		_, _ = cd.Exec(ctr, 65534, "dmesg")
		var res map[string]any
		require.Eventually(t, func() bool {
			for _, logs := range sink.AllLogs() {
				for i := 0; i < logs.ResourceLogs().Len(); i++ {
					rl := logs.ResourceLogs().At(i)
					exe, _ := rl.Resource().Attributes().Get("process.executable.path")
					if exe.Str() == "/bin/dmesg" && sink.LogRecordCount() > before {
						res = rl.Resource().Attributes().AsRaw()
						// The pod's attributes are the test's; the
						// process's (process.*, linux.*, capprof.*)
						// and the container's start are dmesg's.
						maps.DeleteFunc(res, func(k string, _ any) bool {
							return strings.HasPrefix(k, "process.") || strings.HasPrefix(k, "linux.") ||
								strings.HasPrefix(k, "capprof.") || k == "container.start_time"
						})
					}
				}
			}
			return res != nil
		}, 30*time.Second, 20*time.Millisecond, "no dmesg record")
		sink.Reset()
		return res
	}
	want := map[string]any{
		// With kubernetes enabled the host is the node, not this
		// process's host name (in a pod, the pod's).
		"host.name": "node-1", "container.id": ctr.ID, "k8s.pod.uid": string(pod.UID),
		"k8s.namespace.name": "shop", "k8s.pod.name": "web", "k8s.node.name": "node-1", "k8s.container.name": "app",
		"container.image.name": "busybox", "container.image.tag": "1.37", "k8s.pod.label.app": "web",
		"container.image.id":                               testenv.ImageID("busybox:1.37"),
		"k8s.container.security_context.capabilities.add":  "",
		"k8s.container.security_context.capabilities.drop": "",
		"k8s.container.security_context.privileged":        "false",
	}

	n := statusAfter(0, componentstatus.StatusOK)
	require.Eventually(t, func() bool { return r.(*capabilitiesReceiver).rec.Load() != nil }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, want, dmesgResource(), "with the API server up")

	k.StopAPIServer()
	n = statusAfter(n, componentstatus.StatusRecoverableError)
	assert.Equal(t, want, dmesgResource(), "with the API server down")

	k.StartAPIServer()
	statusAfter(n, componentstatus.StatusOK)
	require.NoError(t, r.Shutdown(ctx))
}
