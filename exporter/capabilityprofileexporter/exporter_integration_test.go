//go:build integration

package capabilityprofileexporter

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/capprof/capprof/api/v1alpha1"
	"github.com/capprof/capprof/checklogs"
	"github.com/capprof/capprof/connector/capabilityprofileconnector"
	"github.com/capprof/capprof/exporter/capabilityprofileexporter/internal/metadata"
	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/proc"
	"github.com/capprof/capprof/internal/profile"
	"github.com/capprof/capprof/internal/testenv"
)

// TestCapabilityProfilesOnTheAPIServer runs against a real kube-apiserver
// with the CRDs of deploy/crds, as a ServiceAccount that holds exactly
// v1alpha1.WriterPolicyRules.
func TestCapabilityProfilesOnTheAPIServer(t *testing.T) {
	k := testenv.StartKube(t)
	k.InstallCRDs()
	for _, ns := range []string{"shop", "race", "down"} {
		_, err := k.Client.CoreV1().Namespaces().Create(context.Background(),
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	kubeconfig := k.RoleKubeconfig("capprof-gateway", v1alpha1.WriterPolicyRules())
	admin, err := dynamic.NewForConfig(k.Config)
	require.NoError(t, err)

	t.Run("two gateways concurrently", func(t *testing.T) {
		testTwoGateways(t, kubeconfig, admin)
	})
	t.Run("a write that loses a race merges again", func(t *testing.T) {
		testLostRace(t, kubeconfig, admin)
	})
	t.Run("printer columns", func(t *testing.T) {
		testPrinterColumns(t, k.Config)
	})
	t.Run("every verb of the role is needed", func(t *testing.T) {
		testEveryVerbNeeded(t, k)
	})
	t.Run("writes fail, are counted and retried while the API server is down", func(t *testing.T) {
		testAPIServerDown(t, k, kubeconfig, admin)
	})
}

// testAPIServerDown stops the API server under a gateway's pipeline: the
// flush's writes fail and are counted, the exporter helper retries them
// with back-off, and once the server is back the profile is written.
func testAPIServerDown(t *testing.T, k *testenv.Kube, kubeconfig string, admin dynamic.Interface) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	exp := startExporter(t, kubeconfig, "gw-down", tel.NewTelemetrySettings())
	conn, err := capabilityprofileconnector.NewFactory().CreateLogsToLogs(context.Background(),
		connectortest.NewNopSettings(component.MustNewType("capability_profile")),
		capabilityprofileconnector.NewFactory().CreateDefaultConfig(), exp)
	require.NoError(t, err)
	require.NoError(t, conn.Start(context.Background(), componenttest.NewNopHost()))
	c := webCheck("node-3", "web-down", 21 /* SYS_ADMIN */, 0)
	c.Kubernetes.Namespace = "down"
	require.NoError(t, conn.ConsumeLogs(context.Background(), new(checklogs.Mapper).Logs([]check.Check{c})))

	k.StopAPIServer()
	flushed := make(chan error, 1)
	go func() { flushed <- conn.Shutdown(context.Background()) }() // emits the profile: writes start failing
	require.Eventually(t, func() bool {
		m, err := tel.GetMetric("otelcol_exporter_capability_profile_k8s_write_failures")
		return err == nil && m.Data.(metricdata.Sum[int64]).DataPoints[0].Value >= 2
	}, 60*time.Second, 100*time.Millisecond, "no failed write retried")
	k.StartAPIServer()
	require.NoError(t, <-flushed)
	st := getProfile(t, admin, "down", "deployment-web-app").Status
	require.Equal(t, int64(1), st.Checks)
	require.Equal(t, "gw-down", st.Sources[0].Name)
}

// testTwoGateways runs two gateways' real pipelines (capability_profile
// connector -> this exporter, writers gw-a and gw-b) side by side on the
// checks of one Deployment's container from two nodes: the object ends with
// every check of both, each writer's own counts, and advice from both.
func testTwoGateways(t *testing.T, kubeconfig string, admin dynamic.Interface) {
	const rounds = 25
	var wg sync.WaitGroup
	for _, g := range []struct {
		writer, node string
		capID        int
	}{{"gw-a", "node-1", 0 /* CHOWN */}, {"gw-b", "node-2", 10 /* NET_BIND_SERVICE */}} {
		exp := startExporter(t, kubeconfig, g.writer, componenttest.NewNopTelemetrySettings())
		connCfg := capabilityprofileconnector.NewFactory().CreateDefaultConfig()
		connCfg.(*capabilityprofileconnector.Config).Interval = 10 * time.Millisecond
		conn, err := capabilityprofileconnector.NewFactory().CreateLogsToLogs(context.Background(),
			connectortest.NewNopSettings(component.MustNewType("capability_profile")), connCfg, exp)
		require.NoError(t, err)
		require.NoError(t, conn.Start(context.Background(), componenttest.NewNopHost()))
		wg.Go(func() {
			for r := range rounds {
				logs := new(checklogs.Mapper).Logs([]check.Check{webCheck(g.node, "web-"+g.node, g.capID, r)})
				if err := conn.ConsumeLogs(context.Background(), logs); err != nil {
					t.Errorf("%s: %v", g.writer, err)
				}
				time.Sleep(5 * time.Millisecond)
			}
			// Shutdown emits what changed since the last interval.
			if err := conn.Shutdown(context.Background()); err != nil {
				t.Errorf("%s: %v", g.writer, err)
			}
		})
	}
	wg.Wait()

	obj := getProfile(t, admin, "shop", "deployment-web-app")
	require.Equal(t, v1alpha1.WorkloadReference{Kind: "Deployment", Name: "web"}, obj.Spec.Workload)
	st := obj.Status
	require.Len(t, st.Sources, 2)
	for _, s := range st.Sources {
		require.Equal(t, int64(rounds), s.Checks, "writer %s", s.Name)
	}
	require.Equal(t, int64(2*rounds), st.Checks)
	require.Equal(t, []string{"node-1", "node-2"}, st.Hosts)
	require.Equal(t, []string{"CHOWN", "NET_BIND_SERVICE"}, st.Advice.Add)
	require.Equal(t, []string{"ALL"}, st.Advice.Drop)
	require.Equal(t, "baseline", st.Advice.PSSLevel)
	for _, c := range st.Capabilities {
		require.Equal(t, int64(rounds), c.Granted, c.Name)
	}
}

// testLostRace makes writer a read the object, lets writer b write it, and
// only then lets a apply: a's write is refused (409), and it reads, merges
// and applies again, so b's evidence stays.
func testLostRace(t *testing.T, kubeconfig string, admin dynamic.Interface) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	a := newStartedExporter(t, kubeconfig, "gw-a", tel.NewTelemetrySettings())
	b := newStartedExporter(t, kubeconfig, "gw-b", componenttest.NewNopTelemetrySettings())
	pa := raceProfile("node-1", 0)
	pb := raceProfile("node-2", 10)
	// Create the object first, so that a's read finds it.
	require.NoError(t, b.write(context.Background(), &pb))

	aRead, bWrote := make(chan struct{}), make(chan struct{})
	var once sync.Once
	a.now = func() time.Time {
		once.Do(func() { close(aRead); <-bWrote })
		return time.Now()
	}
	done := make(chan error, 1)
	go func() { done <- a.write(context.Background(), &pa) }()
	<-aRead
	pb2 := raceProfile("node-2", 10, 0, 10)
	require.NoError(t, b.write(context.Background(), &pb2))
	close(bWrote)
	require.NoError(t, <-done)

	m, err := tel.GetMetric("otelcol_exporter_capability_profile_k8s_write_conflicts")
	require.NoError(t, err)
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%T", m.Data)
	require.Equal(t, int64(1), sum.DataPoints[0].Value)
	st := getProfile(t, admin, "race", "deployment-web-app").Status
	require.Len(t, st.Sources, 2)
	require.Equal(t, int64(3), st.Checks, "a's 1 check and b's latest 2")
	require.Equal(t, []string{"CHOWN", "NET_BIND_SERVICE"}, st.Advice.Add)
}

// testPrinterColumns reads the profiles as kubectl get does, through the
// API's Table response.
func testPrinterColumns(t *testing.T, cfg *rest.Config) {
	table := testenv.GetTable(t, cfg, "/apis/capprof.dev/v1alpha1/capabilityprofiles")
	// Cells come for every column; kubectl shows those of priority 0.
	var cols []string
	for _, c := range table.ColumnDefinitions {
		if c.Priority == 0 {
			cols = append(cols, c.Name)
		}
	}
	require.Equal(t, []string{"Name", "Workload", "Container", "Add", "Denied", "PSS", "Checks", "Last Seen", "Verified"}, cols)
	var shop map[string]any
	for _, r := range testenv.Rows(t, table) {
		if r.Namespace == "shop" {
			shop = r.Cells
		}
	}
	require.NotNil(t, shop, "no row of namespace shop")
	t.Logf("row of shop: %v", shop)
	require.Equal(t, "deployment-web-app", shop["Name"])
	require.Equal(t, "web", shop["Workload"])
	require.Equal(t, "Deployment", shop["Kind"])
	require.Equal(t, "app", shop["Container"])
	require.Equal(t, `["CHOWN","NET_BIND_SERVICE"]`, shop["Add"])
	require.Equal(t, "baseline", shop["PSS"])
	require.EqualValues(t, 50, shop["Checks"])
	require.Equal(t, "False", shop["Stable"])
}

// testEveryVerbNeeded takes each verb out of the writer's rules in turn:
// writing a new profile then fails, Forbidden.
func testEveryVerbNeeded(t *testing.T, k *testenv.Kube) {
	for i, rule := range v1alpha1.WriterPolicyRules() {
		for _, verb := range rule.Verbs {
			rules := v1alpha1.WriterPolicyRules()
			rules[i].Verbs = slices.DeleteFunc(slices.Clone(rule.Verbs), func(v string) bool { return v == verb })
			name := "without-" + verb + "-" + strings.ReplaceAll(rule.Resources[0], "/", "-")
			t.Run(name, func(t *testing.T) {
				e := newStartedExporter(t, k.RoleKubeconfig(name, dropEmpty(rules)), name, componenttest.NewNopTelemetrySettings())
				p := raceProfile("node-1", 0)
				p.Key.Workload = name
				err := e.write(context.Background(), &p)
				require.Error(t, err)
				require.True(t, apierrors.IsForbidden(err), "%v", err)
			})
		}
	}
}

func dropEmpty(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	return slices.DeleteFunc(rules, func(r rbacv1.PolicyRule) bool { return len(r.Verbs) == 0 })
}

// startExporter creates and starts the exporter through its factory, as
// the collector does.
func startExporter(t *testing.T, kubeconfig, writer string, ts component.TelemetrySettings) exporter.Logs {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.Kubeconfig, cfg.Writer = kubeconfig, writer
	set := exportertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = ts
	exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, exp.Shutdown(context.Background())) })
	return exp
}

// newStartedExporter is the exporter itself, for tests that drive write.
func newStartedExporter(t *testing.T, kubeconfig, writer string, ts component.TelemetrySettings) *profileExporter {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.Kubeconfig, cfg.Writer = kubeconfig, writer
	set := exportertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = ts
	e, err := newExporter(set, cfg)
	require.NoError(t, err)
	require.NoError(t, e.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, e.shutdown(context.Background())) })
	return e
}

// webCheck is a granted check of capID in the web Deployment's app
// container, on node in pod, at t0+sec.
func webCheck(node, pod string, capID, sec int) check.Check {
	return check.Check{
		Time: t0.Add(time.Duration(sec) * time.Second), Cap: capID, Audit: check.Audited, Count: 1,
		UserNS: check.UserNamespace{IsHost: true}, Syscall: -1, Effective: 1<<capChown | 1<<capNetBindService,
		Process:    proc.Info{ExecutablePath: "/bin/app"},
		HostName:   node,
		Kubernetes: &check.Kubernetes{Namespace: "shop", Deployment: "web", ContainerName: "app", PodName: pod},
	}
}

// raceProfile is a profile of the race namespace's web Deployment: one
// granted check of capID per entry of secs (one at t0 when none).
func raceProfile(node string, capID int, secs ...int) profile.Profile {
	if len(secs) == 0 {
		secs = []int{0}
	}
	var checks []check.Check
	for _, s := range secs {
		checks = append(checks, use(capID, "/bin/app", s, 1, false))
	}
	p := webProfile(node, "", "", checks...)
	p.Key.Namespace = "race"
	return p
}

// getProfile reads a CapabilityProfile as an admin.
func getProfile(t *testing.T, admin dynamic.Interface, ns, name string) v1alpha1.CapabilityProfile {
	t.Helper()
	u, err := admin.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	var obj v1alpha1.CapabilityProfile
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &obj))
	return obj
}
