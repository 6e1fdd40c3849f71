//go:build integration

package grafana

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/capprof/capprof/internal/kube"
	"github.com/capprof/capprof/internal/prereq"
	"github.com/capprof/capprof/internal/testenv"
	"github.com/capprof/capprof/test/collectortest"
)

func TestMain(m *testing.M) { os.Exit(collectortest.Main(m)) }

// MetricsExample is the shipped config the dashboard reads the checks of.
const MetricsExample = "otelcol-config/examples/metrics-prometheus.yaml"

// TestDashboardQueriesMatchThePipeline runs what the dashboard reads, for
// real: a real Prometheus (Debian's, its remote-write receiver on)
// receiving the shipped metrics example's linux.capability.checks and
// scraping the agent's and a gateway's own metrics; the agent records
// containers of pods owned by each kind of workload (a Deployment's
// ReplicaSet, a StatefulSet, a DaemonSet, a Job) on a real API server.
// Then every panel's query must return series from that Prometheus, and
// every label a query matches, groups by or prints must be on a series
// of the metrics it selects.
func TestDashboardQueriesMatchThePipeline(t *testing.T) {
	prereq.RequireRoot(t)
	prereq.RequireCommands(t, "prometheus")
	queries := loadQueries(t)
	k := testenv.StartKube(t)
	cd := testenv.StartContainerd(t)
	k.CreateNamespace("shop")
	var containers []testenv.Container
	for _, w := range []workload{
		{kind: "Deployment", name: "web"}, {kind: "StatefulSet", name: "db"},
		{kind: "DaemonSet", name: "logs"}, {kind: "Job", name: "migrate"},
	} {
		containers = append(containers, w.run(t, k, cd))
	}

	// The gateway keeps one profile: the second workload evicts one, so
	// the eviction counter is a real series.
	gateway := collectortest.StartGateway(t, t.TempDir(), "PROFILE_MAX=1")
	agentMetrics := collectortest.FreeAddr(t)
	prom := startPrometheus(t, agentMetrics, gateway.Metrics)
	_, agentPort, _ := net.SplitHostPort(agentMetrics)
	overlay := filepath.Join(t.TempDir(), "overlay.yaml")
	writeFile(t, overlay, fmt.Sprintf(`
receivers:
  capabilities:
    cgroups:
      include: [%q]
    max_batch_delay: 100ms
exporters:
  otlp_grpc:
    endpoint: %s
    tls:
      insecure: true
service:
  pipelines:
    logs/gateway:
      receivers: [capabilities]
      exporters: [otlp_grpc]
`, cd.Kubepods(), gateway.OTLP))
	collectortest.StartConfigs(t, collectortest.ReceiverReady, []string{MetricsExample, overlay}, []string{
		"PROMETHEUS_REMOTE_WRITE_URL=" + prom.url + "/api/v1/write",
		"KUBERNETES_ENABLED=true",
		"KUBERNETES_AUTH_TYPE=kubeConfig",
		"KUBECONFIG=" + k.AgentKubeconfig(kube.PolicyRules()),
		"NODE_NAME=" + testNode,
		"METRICS_HOST=127.0.0.1",
		"METRICS_PORT=" + agentPort,
	})

	// Checks keep coming (a denied CAP_SYSLOG, a NOAUDIT memory commit of
	// uid 65534) so that rate() has two samples of each series.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			for _, c := range containers {
				_, _ = cd.Exec(c, 65534, "dmesg")
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
		}
	}()
	defer func() { close(stop); <-done }()

	var problems []string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		problems = problems[:0]
		for _, q := range queries {
			if p := prom.check(q); p != "" {
				problems = append(problems, p)
			}
		}
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if len(problems) > 0 {
		t.Fatalf("dashboard queries that the pipeline does not answer:\n%s", strings.Join(problems, "\n"))
	}
}

// testNode is the node the test's pods run on and the agent records.
const testNode = "node-1"

// workload is a workload object of one of the kinds the dashboard groups
// by, with one pod of one container, running under containerd. No
// controller manager runs here, so the test makes the pod (and the
// Deployment's ReplicaSet) itself.
type workload struct{ kind, name string }

func (w workload) run(t *testing.T, k *testenv.Kube, cd *testenv.Containerd) testenv.Container {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": w.name}
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox:1.37"}},
			RestartPolicy: corev1.RestartPolicyAlways},
	}
	selector := &metav1.LabelSelector{MatchLabels: labels}
	owner := metav1.OwnerReference{Kind: w.kind, Name: w.name, Controller: ptr(true)}
	var err error
	var uid types.UID
	switch w.kind {
	case "Deployment":
		var d *appsv1.Deployment
		d, err = k.Client.AppsV1().Deployments("shop").Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: w.name},
			Spec:       appsv1.DeploymentSpec{Selector: selector, Template: template},
		}, metav1.CreateOptions{})
		if err == nil {
			var rs *appsv1.ReplicaSet
			rs, err = k.Client.AppsV1().ReplicaSets("shop").Create(ctx, &appsv1.ReplicaSet{
				ObjectMeta: metav1.ObjectMeta{Name: w.name + "-5d8f7c9b4", Labels: labels, OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: ptr(true)}}},
				Spec: appsv1.ReplicaSetSpec{Selector: selector, Template: template},
			}, metav1.CreateOptions{})
			if err == nil {
				owner = metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr(true)}
			}
		}
	case "StatefulSet":
		var s *appsv1.StatefulSet
		s, err = k.Client.AppsV1().StatefulSets("shop").Create(ctx, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: w.name},
			Spec: appsv1.StatefulSetSpec{Selector: selector, Template: template, ServiceName: w.name}}, metav1.CreateOptions{})
		if err == nil {
			owner.APIVersion, uid = "apps/v1", s.UID
		}
	case "DaemonSet":
		var s *appsv1.DaemonSet
		s, err = k.Client.AppsV1().DaemonSets("shop").Create(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: w.name},
			Spec: appsv1.DaemonSetSpec{Selector: selector, Template: template}}, metav1.CreateOptions{})
		if err == nil {
			owner.APIVersion, uid = "apps/v1", s.UID
		}
	case "Job":
		jobTemplate := *template.DeepCopy()
		jobTemplate.Spec.RestartPolicy = corev1.RestartPolicyNever
		var j *batchv1.Job
		j, err = k.Client.BatchV1().Jobs("shop").Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: w.name},
			Spec: batchv1.JobSpec{Template: jobTemplate}}, metav1.CreateOptions{})
		if err == nil {
			owner.APIVersion, uid = "batch/v1", j.UID
			template = j.Spec.Template // with the labels the API server added
		}
	}
	if err != nil {
		t.Fatalf("create %s shop/%s: %v", w.kind, w.name, err)
	}
	if uid != "" {
		owner.UID = uid
	}
	pod, err := k.Client.CoreV1().Pods("shop").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: w.name + "-0", Labels: template.Labels, OwnerReferences: []metav1.OwnerReference{owner}},
		Spec:       corev1.PodSpec{NodeName: testNode, Containers: template.Spec.Containers, RestartPolicy: template.Spec.RestartPolicy},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create the pod of %s shop/%s: %v", w.kind, w.name, err)
	}
	c := cd.RunContainerInPod(string(pod.UID))
	k.SetContainersRunning("shop", pod.Name, map[string]string{"main": c.ID})
	return c
}

func ptr[T any](v T) *T { return &v }

// prometheus is a running Prometheus server.
type prometheus struct {
	t   *testing.T
	url string
}

// startPrometheus runs Debian's Prometheus with its remote-write receiver
// on, scraping the Collectors' own metrics at targets every second.
func startPrometheus(t *testing.T, targets ...string) *prometheus {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	writeFile(t, config, fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: otelcol
    static_configs:
      - targets: ['%s']
`, strings.Join(targets, "', '")))
	addr := collectortest.FreeAddr(t)
	out := &collectortest.SyncBuffer{}
	cmd := exec.Command("prometheus", "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--web.enable-remote-write-receiver")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("prometheus:\n%s", out.String())
		}
	})
	p := &prometheus{t: t, url: "http://" + addr}
	for deadline := time.Now().Add(time.Minute); ; {
		resp, err := http.Get(p.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-exited:
			t.Fatalf("prometheus exited:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready at %s:\n%s", p.url, out.String())
		}
	}
}

// check evaluates q and returns what is wrong with it, or "".
func (p *prometheus) check(q query) string {
	s, err := parse(q)
	if err != nil {
		return fmt.Sprintf("%s: %v", q.where, err)
	}
	var result []json.RawMessage
	if err := p.get("/api/v1/query", url.Values{"query": {q.expand()}}, &result); err != nil {
		return fmt.Sprintf("%s: %v", q.where, err)
	}
	if len(result) == 0 {
		return fmt.Sprintf("%s: %s returns nothing", q.where, q.expand())
	}
	// The labels on the series of the metrics the query selects.
	have := map[string]bool{}
	for _, m := range s.metrics {
		var series []map[string]string
		if err := p.get("/api/v1/series", url.Values{"match[]": {m}}, &series); err != nil {
			return fmt.Sprintf("%s: %v", q.where, err)
		}
		for _, l := range series {
			for name := range l {
				have[name] = true
			}
		}
	}
	var missing []string
	for _, l := range append(slices.Clone(s.labels), s.legend...) {
		if !have[l] && !slices.Contains(missing, l) {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		return fmt.Sprintf("%s: no series of %v has the labels %v", q.where, s.metrics, missing)
	}
	return ""
}

// get calls Prometheus' HTTP API and decodes its data field into data.
func (p *prometheus) get(path string, params url.Values, data any) error {
	resp, err := http.Get(p.url + path + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   json.RawMessage
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s: %s", path, body.Error)
	}
	if path == "/api/v1/query" {
		var r struct{ Result json.RawMessage }
		if err := json.Unmarshal(body.Data, &r); err != nil {
			return err
		}
		return json.Unmarshal(r.Result, data)
	}
	return json.Unmarshal(body.Data, data)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
