package k8se2e

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/capprof/capprof/api/v1alpha1"
	"github.com/capprof/capprof/internal/kube"
	"github.com/capprof/capprof/internal/recording"
)

// repoRoot is the repository root, found from this file's path.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// render runs the pinned kustomize on a directory under deploy/ and returns
// its objects in order.
func render(t testing.TB, dir string) []*unstructured.Unstructured {
	t.Helper()
	return renderWith(t, "internal/tools/kustomize/go.mod", "kustomize", "build", dir)
}

// renderWith runs a tool pinned in a tools module (go tool -modfile) in the
// repository root and decodes the objects it prints, in order.
func renderWith(t testing.TB, modfile string, args ...string) []*unstructured.Unstructured {
	t.Helper()
	cmd := exec.Command("go", append([]string{"tool", "-modfile=" + modfile}, args...)...)
	cmd.Dir = repoRoot()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return decodeObjects(t, strings.Join(args, " "), out)
}

// decodeObjects decodes the YAML documents (or JSON objects) that a
// command printed, in order.
func decodeObjects(t testing.TB, command string, out []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if err.Error() == "EOF" {
				return objs
			}
			t.Fatalf("output of %s: %v", command, err)
		}
		if m != nil {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
}

// rendered is the demo overlay decoded into API types.
type rendered struct {
	all            []*unstructured.Unstructured
	serviceAccount *corev1.ServiceAccount // the agent's
	clusterRole    *rbacv1.ClusterRole
	binding        *rbacv1.ClusterRoleBinding
	daemonSet      *appsv1.DaemonSet
	agentConfig    *corev1.ConfigMap
	pods           map[string]*corev1.Pod
	// The agent's Role to find the gateway replicas, and its binding.
	endpointsRole    *rbacv1.Role
	endpointsBinding *rbacv1.RoleBinding
	// The gateway's identity, permissions, StatefulSet, Service, PDB and
	// NetworkPolicy.
	gatewayAccount *corev1.ServiceAccount
	gatewayRole    *rbacv1.ClusterRole
	gatewayBinding *rbacv1.ClusterRoleBinding
	gateway        *appsv1.StatefulSet
	gatewayService *corev1.Service
	gatewayPDB     *policyv1.PodDisruptionBudget
	gatewayPolicy  *networkingv1.NetworkPolicy
}

// Names of the gateway's ServiceAccount, ClusterRole and binding.
const gatewayName = "capprof-gateway"

// decodeStrict decodes every object into its typed form; unknown or
// duplicate fields are errors, so a misspelt field fails here.
func decodeStrict(t testing.TB, objs []*unstructured.Unstructured) rendered {
	t.Helper()
	codecs := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict)
	dec := codecs.UniversalDeserializer()
	r := rendered{all: objs, pods: map[string]*corev1.Pod{}}
	for _, u := range objs {
		js, err := u.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		obj, _, err := dec.Decode(js, nil, nil)
		if err != nil {
			t.Errorf("%s %s: %v", u.GetKind(), u.GetName(), err)
			continue
		}
		switch o := obj.(type) {
		case *corev1.ServiceAccount:
			pick(o.Name, o, &r.gatewayAccount, &r.serviceAccount)
		case *rbacv1.ClusterRole:
			pick(o.Name, o, &r.gatewayRole, &r.clusterRole)
		case *rbacv1.ClusterRoleBinding:
			pick(o.Name, o, &r.gatewayBinding, &r.binding)
		case *rbacv1.Role:
			r.endpointsRole = o
		case *rbacv1.RoleBinding:
			r.endpointsBinding = o
		case *appsv1.StatefulSet:
			if o.Name == gatewayName {
				r.gateway = o
			}
		case *corev1.Service:
			if o.Name == gatewayName {
				r.gatewayService = o
			}
		case *policyv1.PodDisruptionBudget:
			r.gatewayPDB = o
		case *networkingv1.NetworkPolicy:
			r.gatewayPolicy = o
		case *appsv1.DaemonSet:
			r.daemonSet = o
		case *corev1.ConfigMap:
			// Kustomize's name carries a hash of the content, Helm's not.
			if kustomizeHash.ReplaceAllString(o.Name, "") == "capprof-agent-config" {
				r.agentConfig = o
			}
		case *corev1.Pod:
			r.pods[o.Name] = o
		}
	}
	return r
}

// pick stores o as the gateway's object when it has the gateway's name, else
// as the agent's.
func pick[T any](name string, o *T, gateway, agent **T) {
	if name == gatewayName {
		*gateway = o
	} else {
		*agent = o
	}
}

func TestRenderBase(t *testing.T) {
	r := decodeStrict(t, render(t, "deploy/base"))
	kinds := map[string]int{}
	for _, o := range r.all {
		kinds[o.GetKind()]++
		if ns := o.GetNamespace(); o.GetKind() != "Namespace" && o.GetKind() != "ClusterRole" &&
			o.GetKind() != "ClusterRoleBinding" && ns != "capprof" {
			t.Errorf("%s %s in namespace %q, want capprof", o.GetKind(), o.GetName(), ns)
		}
	}
	want := map[string]int{"Namespace": 1, "ServiceAccount": 2, "ClusterRole": 2, "ClusterRoleBinding": 2,
		"Role": 1, "RoleBinding": 1, "ConfigMap": 2, "DaemonSet": 1, "StatefulSet": 1, "Service": 1,
		"PodDisruptionBudget": 1, "NetworkPolicy": 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s objects, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
}

func TestRenderAgentLeastPrivilege(t *testing.T) {
	r := decodeStrict(t, render(t, "deploy/base"))
	if r.daemonSet == nil || r.clusterRole == nil || r.agentConfig == nil {
		t.Fatal("no agent DaemonSet, ClusterRole or ConfigMap")
	}
	spec := r.daemonSet.Spec.Template.Spec
	if !spec.HostPID || spec.HostNetwork || spec.ServiceAccountName != r.serviceAccount.Name {
		t.Errorf("hostPID %v hostNetwork %v serviceAccount %q", spec.HostPID, spec.HostNetwork, spec.ServiceAccountName)
	}
	c := spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.Privileged == nil || *sc.Privileged || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Fatalf("agent must be unprivileged without privilege escalation: %+v", sc)
	}
	if got := sc.Capabilities.Drop; !slices.Equal(got, []corev1.Capability{"ALL"}) {
		t.Errorf("drop %v, want [ALL]", got)
	}
	if got := sc.Capabilities.Add; !slices.Equal(got, []corev1.Capability{"BPF", "PERFMON", "SYS_PTRACE", "SYSLOG"}) {
		t.Errorf("add %v, want the measured set (deploy/README.md)", got)
	}
	mounts := map[string]bool{}
	for _, m := range c.VolumeMounts {
		if !m.ReadOnly {
			t.Errorf("mount %s is writable", m.MountPath)
		}
		mounts[m.MountPath] = true
	}
	for _, p := range []string{"/sys/kernel/btf", "/sys/kernel/tracing", "/sys/fs/cgroup", "/etc/otelcol-capprof"} {
		if !mounts[p] {
			t.Errorf("no mount at %s", p)
		}
	}
	if c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() || c.LivenessProbe == nil || c.ReadinessProbe == nil {
		t.Error("agent without memory limit, cpu request or probes")
	}
	var nodeName bool
	for _, e := range c.Env {
		nodeName = nodeName || (e.Name == "NODE_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName")
	}
	if !nodeName {
		t.Error("NODE_NAME does not come from spec.nodeName")
	}
	if want := slices.Concat(kube.PolicyRules(), recording.PolicyRules()); !reflect.DeepEqual(r.clusterRole.Rules, want) {
		t.Errorf("ClusterRole rules %+v, want internal/kube's and internal/recording's %+v", r.clusterRole.Rules, want)
	}
	if cfg := r.agentConfig.Data["config.yaml"]; !strings.Contains(cfg, "kubernetes:") || !strings.Contains(cfg, "k8s_attributes:") ||
		!strings.Contains(cfg, "load_balancing:") {
		t.Errorf("agent config lacks the kubernetes block, k8s_attributes or load_balancing:\n%s", cfg)
	}
	// The loadbalancing exporter's k8s resolver lists and watches the
	// gateway Service's EndpointSlices, in its namespace only.
	wantEndpoints := []rbacv1.PolicyRule{{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}}}
	if r.endpointsRole == nil || !reflect.DeepEqual(r.endpointsRole.Rules, wantEndpoints) || r.endpointsRole.Namespace != "capprof" {
		t.Errorf("agent Role %+v, want %+v in namespace capprof", r.endpointsRole, wantEndpoints)
	}
	if b := r.endpointsBinding; b == nil || b.RoleRef.Kind != "Role" || b.RoleRef.Name != r.endpointsRole.Name ||
		len(b.Subjects) != 1 || b.Subjects[0].Name != r.serviceAccount.Name || b.Subjects[0].Namespace != r.serviceAccount.Namespace {
		t.Errorf("agent RoleBinding %+v does not bind the Role to the agent's service account", b)
	}
}

// TestRenderGatewayLeastPrivilege: the gateway may write CapabilityProfiles
// (api/v1alpha1's WriterPolicyRules) and nothing else, as its own
// ServiceAccount, and still needs no capability.
func TestRenderGatewayLeastPrivilege(t *testing.T) {
	r := decodeStrict(t, render(t, "deploy/base"))
	if r.gatewayAccount == nil || r.gatewayRole == nil || r.gatewayBinding == nil || r.gateway == nil {
		t.Fatal("no gateway ServiceAccount, ClusterRole, ClusterRoleBinding or StatefulSet")
	}
	if want := v1alpha1.WriterPolicyRules(); !reflect.DeepEqual(r.gatewayRole.Rules, want) {
		t.Errorf("gateway ClusterRole rules %+v, want api/v1alpha1's %+v", r.gatewayRole.Rules, want)
	}
	b := r.gatewayBinding
	if b.RoleRef.Name != r.gatewayRole.Name || len(b.Subjects) != 1 || b.Subjects[0].Name != r.gatewayAccount.Name ||
		b.Subjects[0].Namespace != r.gatewayAccount.Namespace {
		t.Errorf("gateway binding %+v does not bind its role to its service account", b)
	}
	spec := r.gateway.Spec.Template.Spec
	if spec.ServiceAccountName != r.gatewayAccount.Name || spec.AutomountServiceAccountToken == nil || !*spec.AutomountServiceAccountToken {
		t.Errorf("gateway runs as %q (automount %v), want %s with its token", spec.ServiceAccountName,
			spec.AutomountServiceAccountToken, r.gatewayAccount.Name)
	}
	sc := spec.Containers[0].SecurityContext
	if sc == nil || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Errorf("gateway securityContext %+v, want drop [ALL] and nothing added", sc)
	}
}

// TestRenderGatewayReplicas: the gateways are a StatefulSet behind a
// headless Service (the agents' loadbalancing exporter routes to pod
// addresses), each replica with its own volume, kept when scaled away; a
// PodDisruptionBudget; mutual TLS from the Secret; and a NetworkPolicy that
// admits only the agents to the OTLP ports.
func TestRenderGatewayReplicas(t *testing.T) {
	r := decodeStrict(t, render(t, "deploy/base"))
	g, svc := r.gateway, r.gatewayService
	if g == nil || svc == nil || r.gatewayPDB == nil || r.gatewayPolicy == nil {
		t.Fatal("no gateway StatefulSet, Service, PodDisruptionBudget or NetworkPolicy")
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone || g.Spec.ServiceName != svc.Name {
		t.Errorf("Service clusterIP %q, StatefulSet serviceName %q: want a headless %s", svc.Spec.ClusterIP, g.Spec.ServiceName, svc.Name)
	}
	if len(g.Spec.VolumeClaimTemplates) != 1 || g.Spec.VolumeClaimTemplates[0].Name != "profiles" ||
		g.Spec.PersistentVolumeClaimRetentionPolicy == nil ||
		g.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("gateway volumes %+v, retention %+v: want its own profiles volume, kept when scaled down",
			g.Spec.VolumeClaimTemplates, g.Spec.PersistentVolumeClaimRetentionPolicy)
	}
	c := g.Spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "--config=/etc/otelcol-capprof/tls.yaml") {
		t.Errorf("gateway args %v do not merge tls.yaml", c.Args)
	}
	var secrets []string // the gateway's, then the agent's
	for _, v := range append(g.Spec.Template.Spec.Volumes, r.daemonSet.Spec.Template.Spec.Volumes...) {
		if v.Secret != nil {
			secrets = append(secrets, v.Secret.SecretName)
		}
	}
	if !slices.Equal(secrets, []string{"capprof-gateway-tls", "capprof-agent-tls"}) {
		t.Errorf("Secret volumes %v, want the gateway's and the agent's TLS Secrets", secrets)
	}
	if sel := r.gatewayPDB.Spec.Selector.MatchLabels; sel["app.kubernetes.io/name"] != gatewayName || r.gatewayPDB.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget %+v", r.gatewayPDB.Spec)
	}
	p := r.gatewayPolicy.Spec
	if len(p.Ingress) != 2 || len(p.Ingress[0].From) != 1 ||
		p.Ingress[0].From[0].PodSelector.MatchLabels["app.kubernetes.io/name"] != "capprof-agent" || len(p.Ingress[1].From) != 0 {
		t.Fatalf("NetworkPolicy ingress %+v: want the OTLP ports from the agents, the rest from anywhere", p.Ingress)
	}
	for i, want := range [][]string{{"otlp-grpc", "otlp-http"}, {"health", "metrics"}} {
		var got []string
		for _, port := range p.Ingress[i].Ports {
			got = append(got, port.Port.String())
		}
		if !slices.Equal(got, want) {
			t.Errorf("NetworkPolicy rule %d ports %v, want %v", i, got, want)
		}
	}
}

func TestRenderDemo(t *testing.T) {
	r := decodeStrict(t, render(t, "deploy/overlays/demo"))
	xwing := r.pods["xwing"]
	if xwing == nil || xwing.Namespace != "default" {
		t.Fatalf("no pod default/xwing among %v", r.pods)
	}
	if xwing.Labels["class"] != "xwing" || xwing.Labels["org"] != "alliance" || xwing.Spec.Containers[0].Name != "spaceship" {
		t.Errorf("xwing: labels %v, container %q", xwing.Labels, xwing.Spec.Containers[0].Name)
	}
	if r.pods["tiefighter"] == nil || r.daemonSet == nil {
		t.Error("the demo lacks tiefighter or the agent")
	}
	for _, p := range r.pods {
		for _, c := range p.Spec.Containers {
			if !strings.Contains(c.Image, ":") || strings.HasSuffix(c.Image, ":latest") {
				t.Errorf("%s/%s: image %q is not pinned", p.Name, c.Name, c.Image)
			}
		}
	}
}
