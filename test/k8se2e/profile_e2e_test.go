//go:build e2e

package k8se2e

import (
	"encoding/json"
	"flag"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/capprof/capprof/internal/testenv"
	"github.com/capprof/capprof/test/browsertest"
	"github.com/capprof/capprof/test/collectortest"
)

// The profiles the gateway makes of the demo (profile.Key.String): the
// deathstar Deployment's container, over both replicas, and the two pods.
const (
	deathstarProfile  = "k8s default/Deployment/deathstar/deathstar"
	xwingProfile      = "k8s default/Pod/xwing/spaceship"
	tiefighterProfile = "k8s default/Pod/tiefighter/spaceship"
)

// deathstarHash is the pod-template-hash of the deathstar's ReplicaSet, as
// the Deployment controller would name it.
const deathstarHash = "6f87c7b6d4"

// deathstarDeployment is the demo's deathstar Deployment in the API server
// with the ReplicaSet its controller would make; no controller manager runs
// here, so the test makes the ReplicaSet and its pods.
type deathstarDeployment struct {
	replicaSet *appsv1.ReplicaSet
}

// createDeathstar creates the rendered deathstar Deployment and its
// ReplicaSet, owned by it.
func createDeathstar(t *testing.T, ap *applier, r rendered) *deathstarDeployment {
	t.Helper()
	var dep appsv1.Deployment
	for _, o := range r.all {
		if o.GetKind() == "Deployment" && o.GetName() == "deathstar" {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(ap.create(t, o).Object, &dep); err != nil {
				t.Fatal(err)
			}
		}
	}
	if dep.UID == "" {
		t.Fatal("the overlay has no deathstar Deployment")
	}
	tmpl := *dep.Spec.Template.DeepCopy()
	tmpl.Labels = withHash(tmpl.Labels)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: dep.Name + "-" + deathstarHash, Namespace: dep.Namespace, Labels: tmpl.Labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "Deployment", Name: dep.Name, UID: dep.UID,
				Controller: ptr(true), BlockOwnerDeletion: ptr(true),
			}},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: dep.Spec.Replicas,
			Selector: &metav1.LabelSelector{MatchLabels: withHash(dep.Spec.Selector.MatchLabels)},
			Template: tmpl,
		},
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(rs)
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{Object: u}
	obj.SetAPIVersion("apps/v1")
	obj.SetKind("ReplicaSet")
	created := &appsv1.ReplicaSet{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(ap.create(t, obj).Object, created); err != nil {
		t.Fatal(err)
	}
	return &deathstarDeployment{replicaSet: created}
}

func withHash(labels map[string]string) map[string]string {
	out := maps.Clone(labels)
	out[appsv1.DefaultDeploymentUniqueLabelKey] = deathstarHash
	return out
}

func ptr[T any](v T) *T { return &v }

// pod is a pod of the ReplicaSet, as its controller would create it.
func (d *deathstarDeployment) pod(suffix string) *corev1.Pod {
	rs := d.replicaSet
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: rs.Name + "-" + suffix, Namespace: rs.Namespace, Labels: rs.Spec.Template.Labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID,
				Controller: ptr(true), BlockOwnerDeletion: ptr(true),
			}},
		},
		Spec: *rs.Spec.Template.Spec.DeepCopy(),
	}
}

// serve does what the deathstar's server does as it starts: as root, it
// listens on port 80 (its Service's port), a granted CAP_NET_BIND_SERVICE
// check. busybox httpd stands in for the starwars image's server; it binds
// and goes to the background. It returns the record of the check, named
// after the Deployment and the node by that node's agent.
func (d *deathstarDeployment) serve(t *testing.T, ctrd *testenv.Containerd, backend *sink, ctr testenv.Container, pod *corev1.Pod, node string, a *agent) *record {
	t.Helper()
	if out, err := ctrd.Exec(ctr, 0, "httpd", "-p", "80", "-h", "/"); err != nil {
		t.Fatalf("httpd on port 80 in %s: %v\n%s", pod.Name, err, out)
	}
	rec := backend.waitFor(0, 60*time.Second, func(r record) bool {
		return r.resource["container.id"] == ctr.ID && r.attrs["linux.capability.name"] == "CAP_NET_BIND_SERVICE"
	})
	if rec == nil {
		t.Fatalf("no CAP_NET_BIND_SERVICE record of %s on %s; agent log:\n%s", pod.Name, node, a.logTail())
	}
	logRecord(t, "deathstar on "+node, rec)
	for k, v := range map[string]any{
		"k8s.namespace.name": "default", "k8s.deployment.name": "deathstar", "k8s.replicaset.name": d.replicaSet.Name,
		"k8s.pod.name": pod.Name, "k8s.pod.uid": string(pod.UID), "k8s.container.name": "deathstar",
		"k8s.node.name": node, "host.name": node,
	} {
		if rec.resource[k] != v {
			t.Errorf("deathstar on %s: resource %s = %v, want %v", node, k, rec.resource[k], v)
		}
	}
	if rec.attrs["linux.capability.verdict"] != "granted" || rec.resource["process.user.id"] != int64(0) {
		t.Errorf("deathstar on %s: verdict %v, uid %v; want granted to uid 0", node, rec.attrs["linux.capability.verdict"], rec.resource["process.user.id"])
	}
	return rec
}

// profileWant is what one profile record must say.
type profileWant struct {
	used, denied, add []string
	pss               string
	hosts             []string
}

// checkProfiles reads what the stopped gateway wrote: exactly one profile
// record per workload of the demo, the deathstar's over both nodes, each
// with the advice its checks call for and nothing the runtime did while
// setting a container up. It logs the records and what `capprof profile`
// makes of xwing's and the deathstar's forwarded checks (the README quotes
// them). It returns the records by profile id.
func checkProfiles(t *testing.T, g *collectortest.Gateway) map[string]plog.LogRecord {
	t.Helper()
	records := map[string][]plog.LogRecord{}
	collectortest.EachRecord(collectortest.ReadLogs(t, g.Profiles), func(res pcommon.Resource, lr plog.LogRecord) {
		if lr.EventName() != "linux.capability.profile" {
			return
		}
		if ns, _ := res.Attributes().Get("k8s.namespace.name"); ns.Str() != "default" {
			return // unnamed containers: the agents' own, other tests'
		}
		id, _ := lr.Attributes().Get("linux.capability.profile.id")
		records[id.Str()] = append(records[id.Str()], lr)
		attrs, _ := json.MarshalIndent(lr.Attributes().AsRaw(), "  ", "  ")
		t.Logf("profile record from the gateway: event %s\n  attributes %s\n  body:\n%s", lr.EventName(), attrs, lr.Body().Str())
	})

	perHost, observations := forwardedChecks(t, g.Checks, "deathstar")
	t.Logf("deathstar check records the gateway forwarded, per host: %v", perHost)
	if perHost[nodeA] == 0 || perHost[nodeB] == 0 {
		t.Errorf("the gateway forwarded deathstar checks per host %v, want both nodes", perHost)
	}
	// The runtime's own checks as it sets a container up or enters it for
	// an exec (runc init: capset, setgroups, setuid, chown of the console,
	// ...) are marked runtime_setup and advise nothing: every capability
	// the advice adds is the workload's. busybox's dmesg, which stands in
	// for Debian's here, first sets its group and user ids to its own
	// (setgid(65534), setuid(65534)): the kernel checks CAP_SETGID and
	// CAP_SETUID before it sees that no capability is needed, so those are
	// denied too, and the call succeeds.
	dmesgDenied := []string{"SETGID", "SETUID", "SYSLOG"}
	wants := map[string]profileWant{
		deathstarProfile:  {used: []string{"NET_BIND_SERVICE"}, denied: []string{}, add: []string{"NET_BIND_SERVICE"}, pss: "restricted", hosts: []string{nodeA, nodeB}},
		xwingProfile:      {used: []string{}, denied: dmesgDenied, add: []string{}, pss: "restricted", hosts: []string{nodeA}},
		tiefighterProfile: {used: []string{}, denied: dmesgDenied, add: []string{}, pss: "restricted", hosts: []string{nodeA}},
	}
	if got := slices.Sorted(maps.Keys(records)); !slices.Equal(got, slices.Sorted(maps.Keys(wants))) {
		t.Errorf("profiles of namespace default: %v, want %v\n%s", got, slices.Sorted(maps.Keys(wants)), g.Output.String())
	}
	for id, want := range wants {
		if len(records[id]) != 1 {
			t.Errorf("%s: %d profile records, want exactly 1", id, len(records[id]))
			continue
		}
		p := records[id][0]
		for attr, w := range map[string][]string{
			"used": want.used, "denied": want.denied, "recommended.add": want.add,
			"recommended.drop": {"ALL"}, "hosts": want.hosts,
		} {
			if got := collectortest.StringList(p, "linux.capability.profile."+attr); !slices.Equal(got, w) {
				t.Errorf("%s: %s = %v, want %v", id, attr, got, w)
			}
		}
		if got, _ := p.Attributes().Get("linux.capability.profile.pss_level"); got.Str() != want.pss {
			t.Errorf("%s: pss_level = %q, want %q", id, got.Str(), want.pss)
		}
	}
	if p := records[deathstarProfile]; len(p) == 1 {
		var checks int64
		for _, n := range perHost {
			checks += n
		}
		if got := collectortest.IntValue(p[0], "linux.capability.profile.checks"); got != checks {
			t.Errorf("%s: checks = %d, want %d, the sum over both nodes %v", deathstarProfile, got, checks, perHost)
		}
		if got := collectortest.IntValue(p[0], "linux.capability.profile.observations"); got != int64(observations) {
			t.Errorf("%s: observations = %d, want the %d records forwarded", deathstarProfile, got, observations)
		}
	}
	explain(t, g.Checks, "pod.name", "xwing", "table", "yaml")
	explain(t, g.Checks, "deployment.name", "deathstar", "yaml", "patch")
	checkReport(t, g.Checks)
	one := map[string]plog.LogRecord{}
	for id, rs := range records {
		if len(rs) == 1 {
			one[id] = rs[0]
		}
	}
	return one
}

// forwardedChecks adds up, per host.name, the checks (sums of
// linux.capability.count) of a Deployment among the raw records the gateway
// forwarded, and counts those records.
func forwardedChecks(t *testing.T, path, deployment string) (perHost map[string]int64, records int) {
	t.Helper()
	perHost = map[string]int64{}
	collectortest.EachRecord(collectortest.ReadLogs(t, path), func(res pcommon.Resource, lr plog.LogRecord) {
		attrs := res.Attributes().AsRaw()
		if lr.EventName() != "linux.capability.check" || attrs["k8s.deployment.name"] != deployment {
			return
		}
		n, _ := lr.Attributes().AsRaw()["linux.capability.count"].(int64)
		if n == 0 {
			n = 1
		}
		host, _ := attrs["host.name"].(string)
		perHost[host] += n
		records++
	})
	return perHost, records
}

// explain runs `capprof profile` in each format over one workload's checks
// as the gateway forwarded them (its file exporter's OTLP/JSON, kept to the
// records whose resource says k8s.<what> = name, so that the output is one
// profile) and logs what it says.
func explain(t *testing.T, checks, what, name string, formats ...string) {
	t.Helper()
	file := forwarded(t, checks, "k8s."+what, name)
	capprof := collectortest.Binary(t, "./cmd/capprof")
	for _, format := range formats {
		out, err := exec.Command(capprof, "profile", "--format", format, file).CombinedOutput()
		if err != nil {
			t.Errorf("capprof profile --format %s: %v\n%s", format, err, out)
			continue
		}
		t.Logf("capprof profile --format %s over the checks of %s %s:\n%s", format, what, name, out)
	}
}

// forwarded writes the records of the gateway's checks file whose resource
// attribute attr is value to a file of the test's, as OTLP/JSON lines, and
// returns its path.
func forwarded(t *testing.T, checks, attr, value string) string {
	t.Helper()
	var lines []byte
	for _, logs := range collectortest.ReadLogs(t, checks) {
		logs.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
			v, _ := rl.Resource().Attributes().Get(attr)
			return v.Str() != value
		})
		if logs.LogRecordCount() == 0 {
			continue
		}
		b, err := (&plog.JSONMarshaler{}).MarshalLogs(logs)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(append(lines, b...), '\n')
	}
	file := filepath.Join(t.TempDir(), attr+"-"+value+".jsonl")
	if err := os.WriteFile(file, lines, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

var reportFixture = flag.String("report-fixture", "", "also write the checks of namespace default the gateway forwarded to `FILE` "+
	"(cmd/capprof/testdata/starwars-checks.jsonl.gz is one, gzipped)")

// checkReport writes `capprof report --namespace default` of what the
// gateway forwarded, loads it in headless Chromium and reads the heat map
// its script drew: the deathstar needs NET_BIND_SERVICE, xwing was refused
// SYSLOG. With -report-fixture it keeps the checks the page was made of.
func checkReport(t *testing.T, checks string) {
	t.Helper()
	browser := browsertest.Chromium(t)
	if *reportFixture != "" {
		data, err := os.ReadFile(forwarded(t, checks, "k8s.namespace.name", "default"))
		if err == nil {
			err = os.WriteFile(*reportFixture, data, 0o644)
		}
		if err != nil {
			t.Errorf("-report-fixture: %v", err)
		}
	}
	page := filepath.Join(t.TempDir(), "report.html")
	capprof := collectortest.Binary(t, "./cmd/capprof")
	if out, err := exec.Command(capprof, "report", "--namespace", "default", "-o", page, checks).CombinedOutput(); err != nil {
		t.Fatalf("capprof report: %v\n%s", err, out)
	}
	browsertest.CheckCells(t, browser.DOM(t, page), map[string]map[string]string{
		deathstarProfile: {"NET_BIND_SERVICE": "needed"},
		xwingProfile:     {"SYSLOG": "denied-only"},
	})
}
