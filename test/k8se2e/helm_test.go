package k8se2e

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// helmChart is the chart; helmNamespace the namespace deploy/base uses,
// which the chart takes from the release.
const (
	helmChart     = "deploy/helm/capprof"
	helmNamespace = "capprof"
)

// renderHelm runs `helm template` (pinned in internal/tools/helm) on the
// chart with extra flags, as release capprof in namespace capprof.
func renderHelm(t testing.TB, flags ...string) []*unstructured.Unstructured {
	t.Helper()
	return renderWith(t, "internal/tools/helm/go.mod",
		append([]string{"helm", "template", "capprof", helmChart, "--namespace", helmNamespace}, flags...)...)
}

// helmOnlyLabels are the labels Helm's conventions add to every object.
var helmOnlyLabels = []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance"}

// kustomizeHash is the content hash configMapGenerator appends to a name.
var kustomizeHash = regexp.MustCompile(`-[a-z0-9]{10}$`)

// normalized returns an object as the two renderers should agree on it,
// keyed kind/name: without Helm's own labels and config checksums, without
// Kustomize's name hashes, and with each collector config parsed, so that
// key order, comments and quoting do not count.
func normalized(t *testing.T, o *unstructured.Unstructured) (string, map[string]any) {
	t.Helper()
	m := o.DeepCopy().Object
	labels, _, _ := unstructured.NestedStringMap(m, "metadata", "labels")
	for _, l := range helmOnlyLabels {
		delete(labels, l)
	}
	if err := unstructured.SetNestedStringMap(m, labels, "metadata", "labels"); err != nil {
		t.Fatal(err)
	}
	name := o.GetName()
	switch o.GetKind() {
	case "ConfigMap":
		name = kustomizeHash.ReplaceAllString(name, "")
		unstructured.SetNestedField(m, name, "metadata", "name")
		data, _, _ := unstructured.NestedStringMap(m, "data")
		parsed := map[string]any{}
		for k, v := range data {
			var cfg any
			if err := yaml.Unmarshal([]byte(v), &cfg); err != nil {
				t.Fatalf("ConfigMap %s: %s: %v", name, k, err)
			}
			parsed[k] = cfg
		}
		m["data"] = parsed
	case "DaemonSet", "StatefulSet":
		unstructured.RemoveNestedField(m, "spec", "template", "metadata", "annotations", "checksum/config")
		if a, _, _ := unstructured.NestedMap(m, "spec", "template", "metadata", "annotations"); len(a) == 0 {
			unstructured.RemoveNestedField(m, "spec", "template", "metadata", "annotations")
		}
		volumes, _, _ := unstructured.NestedSlice(m, "spec", "template", "spec", "volumes")
		for _, v := range volumes {
			if cm, ok := v.(map[string]any)["configMap"].(map[string]any); ok {
				cm["name"] = kustomizeHash.ReplaceAllString(cm["name"].(string), "")
			}
		}
		unstructured.SetNestedSlice(m, volumes, "spec", "template", "spec", "volumes")
	}
	return o.GetKind() + "/" + name, m
}

// TestHelmMatchesKustomize renders the chart with its default values and
// deploy/base, and requires the same objects: security contexts, RBAC,
// mounts, probes, resources and both collector configs. The chart leaves the
// Namespace to `helm install --create-namespace`.
func TestHelmMatchesKustomize(t *testing.T) {
	want := map[string]map[string]any{}
	for _, o := range render(t, "deploy/base") {
		if o.GetKind() != "Namespace" {
			k, m := normalized(t, o)
			want[k] = m
		}
	}
	helm := renderHelm(t)
	decodeStrict(t, helm)
	for _, o := range helm {
		k, got := normalized(t, o)
		w, ok := want[k]
		delete(want, k)
		if !ok {
			t.Errorf("the chart renders %s, deploy/base does not", k)
			continue
		}
		if !reflect.DeepEqual(got, w) {
			g, _ := json.MarshalIndent(got, "", "  ")
			b, _ := json.MarshalIndent(w, "", "  ")
			t.Errorf("%s differs:\nchart:\n%s\ndeploy/base:\n%s", k, g, b)
		}
	}
	for k := range want {
		t.Errorf("deploy/base renders %s, the chart does not", k)
	}
}

// helmValues sets every value the chart offers, in release namespace
// observability.
var helmValues = []string{
	"--namespace", "observability",
	"--set", "image.repository=registry.example/otelcol-capprof,image.tag=v9,image.pullPolicy=Always",
	"--set", "agent.mode=stream,agent.audit=all,agent.verdict=denied,agent.includeHost=true,agent.labels=all",
	"--set", "agent.gatewayService=gw.example,agent.tlsSecret=agent-cert",
	"--set-json", `agent.exporters={"debug":{"verbosity":"detailed"}}`,
	"--set-json", `agent.config={"processors":{"batch":{"timeout":"5s"}}}`,
	"--set-json", `agent.tolerations=[{"key":"dedicated","operator":"Equal","value":"infra","effect":"NoSchedule"}]`,
	"--set", "agent.resources.limits.memory=1Gi,agent.nodeSelector.kubernetes\\.io/os=linux",
	"--set", "gateway.replicas=2,gateway.settings.PROFILE_EXPORTERS=[debug\\, otlp_grpc/profiles]",
	"--set", "gateway.settings.PROFILE_EXPORT_ENDPOINT=backend:4317,gateway.config.connectors.capability_profile.max_profiles=5",
	"--set", "gateway.storage.size=5Gi,gateway.storage.storageClassName=fast,gateway.tlsSecret=gateway-cert",
	"--set", "gateway.networkPolicy=false,gateway.autoscaling.enabled=true,gateway.autoscaling.maxReplicas=4",
}

// TestHelmValues sets every value the chart offers and checks that each
// lands where it should, and that the agent's privileges stay as measured.
func TestHelmValues(t *testing.T) {
	objs := renderHelm(t, helmValues...)
	r := decodeStrict(t, objs)
	defaults := decodeStrict(t, renderHelm(t))
	var gatewayConfig *corev1.ConfigMap
	for _, o := range objs {
		if o.GetKind() != "ClusterRole" && o.GetKind() != "ClusterRoleBinding" && o.GetNamespace() != "observability" {
			t.Errorf("%s %s in namespace %q, want the release's", o.GetKind(), o.GetName(), o.GetNamespace())
		}
		if o.GetKind() == "ConfigMap" && o.GetName() == "capprof-gateway-config" {
			gatewayConfig = &corev1.ConfigMap{Data: map[string]string{}}
			gatewayConfig.Data, _, _ = unstructured.NestedStringMap(o.Object, "data")
		}
	}
	if got := r.binding.Subjects[0].Namespace; got != "observability" {
		t.Errorf("ClusterRoleBinding subject in %q", got)
	}

	var agent struct {
		Receivers struct {
			Capabilities struct {
				Mode, Audit, Verdict string
				IncludeHost          bool `json:"include_host"`
				Kubernetes           struct{ Labels any }
			}
		}
		Processors struct{ Batch struct{ Timeout string } }
		Exporters  map[string]map[string]any
		Service    struct {
			Pipelines struct{ Logs struct{ Exporters []string } }
		}
	}
	if err := yaml.Unmarshal([]byte(r.agentConfig.Data["config.yaml"]), &agent); err != nil {
		t.Fatal(err)
	}
	rcv := agent.Receivers.Capabilities
	if rcv.Mode != "stream" || rcv.Audit != "all" || rcv.Verdict != "denied" || !rcv.IncludeHost || rcv.Kubernetes.Labels != "all" {
		t.Errorf("receiver settings %+v", rcv)
	}
	lb, _ := json.Marshal(agent.Exporters["load_balancing"])
	if agent.Processors.Batch.Timeout != "5s" || agent.Exporters["debug"]["verbosity"] != "detailed" ||
		!strings.Contains(string(lb), `"service":"${env:CAPPROF_GATEWAY_SERVICE:-gw.example}"`) ||
		!strings.Contains(string(lb), `"server_name_override":"${env:CAPPROF_GATEWAY_TLS_NAME:-gw.example.svc}"`) {
		t.Errorf("agent config: batch %+v, exporters %v", agent.Processors.Batch, agent.Exporters)
	}
	if got := agent.Service.Pipelines.Logs.Exporters; !slices.Equal(got, []string{"load_balancing", "debug"}) {
		t.Errorf("agent pipeline exporters %v, want [load_balancing debug]", got)
	}

	spec := r.daemonSet.Spec.Template.Spec
	c := spec.Containers[0]
	if c.Image != "registry.example/otelcol-capprof:v9" || c.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("agent image %q, pull policy %q", c.Image, c.ImagePullPolicy)
	}
	if len(spec.Tolerations) != 1 || spec.Tolerations[0].Key != "dedicated" || spec.NodeSelector["kubernetes.io/os"] != "linux" {
		t.Errorf("agent tolerations %+v, node selector %v", spec.Tolerations, spec.NodeSelector)
	}
	if got := c.Resources.Limits.Memory().String(); got != "1Gi" {
		t.Errorf("agent memory limit %s", got)
	}
	if !reflect.DeepEqual(c.SecurityContext, defaults.daemonSet.Spec.Template.Spec.Containers[0].SecurityContext) {
		t.Errorf("the agent's security context changed with the values: %+v", c.SecurityContext)
	}
	checksum := func(o map[string]string) string { return o["checksum/config"] }
	if a, b := checksum(r.daemonSet.Spec.Template.Annotations), checksum(defaults.daemonSet.Spec.Template.Annotations); a == "" || a == b {
		t.Errorf("agent config checksum %q with other values, %q with the defaults: a changed config must roll the pods", a, b)
	}

	var gateway struct {
		Connectors struct {
			CapabilityProfile struct {
				MaxProfiles int `json:"max_profiles"`
			} `json:"capability_profile"`
		}
	}
	if gatewayConfig == nil {
		t.Fatal("no gateway ConfigMap")
	}
	if err := yaml.Unmarshal([]byte(gatewayConfig.Data["config.yaml"]), &gateway); err != nil {
		t.Fatal(err)
	}
	if gateway.Connectors.CapabilityProfile.MaxProfiles != 5 {
		t.Errorf("gateway max_profiles %d, want 5", gateway.Connectors.CapabilityProfile.MaxProfiles)
	}
	d := r.gateway
	env, _ := json.Marshal(d.Spec.Template.Spec.Containers[0].Env)
	volumes, _ := json.Marshal(append(d.Spec.Template.Spec.Volumes, r.daemonSet.Spec.Template.Spec.Volumes...))
	claims, _ := json.Marshal(d.Spec.VolumeClaimTemplates)
	if *d.Spec.Replicas != 2 || !strings.Contains(string(env), `{"name":"PROFILE_EXPORTERS","value":"[debug, otlp_grpc/profiles]"}`) ||
		!strings.Contains(string(env), `{"name":"PROFILE_EXPORT_ENDPOINT","value":"backend:4317"}`) ||
		!strings.Contains(string(volumes), `{"name":"tls","secret":{"secretName":"gateway-cert"}}`) ||
		!strings.Contains(string(volumes), `{"name":"tls","secret":{"secretName":"agent-cert"}}`) ||
		!strings.Contains(string(claims), `"storageClassName":"fast"`) || !strings.Contains(string(claims), `"storage":"5Gi"`) {
		t.Errorf("gateway: %d replicas, env %s, volumes %s, claims %s", *d.Spec.Replicas, env, volumes, claims)
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
	}
	if kinds["NetworkPolicy"] != 0 || kinds["HorizontalPodAutoscaler"] != 1 {
		t.Errorf("objects %v: want no NetworkPolicy and an HPA", kinds)
	}
}
