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
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/capprof/capprof/internal/kube"
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
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if err.Error() == "EOF" {
				return objs
			}
			t.Fatalf("output of %s: %v", strings.Join(args, " "), err)
		}
		if m != nil {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
}

// rendered is the demo overlay decoded into API types.
type rendered struct {
	all            []*unstructured.Unstructured
	serviceAccount *corev1.ServiceAccount
	clusterRole    *rbacv1.ClusterRole
	binding        *rbacv1.ClusterRoleBinding
	daemonSet      *appsv1.DaemonSet
	deployment     *appsv1.Deployment
	agentConfig    *corev1.ConfigMap
	pods           map[string]*corev1.Pod
}

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
			r.serviceAccount = o
		case *rbacv1.ClusterRole:
			r.clusterRole = o
		case *rbacv1.ClusterRoleBinding:
			r.binding = o
		case *appsv1.DaemonSet:
			r.daemonSet = o
		case *appsv1.Deployment:
			r.deployment = o
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
	want := map[string]int{"Namespace": 1, "ServiceAccount": 1, "ClusterRole": 1, "ClusterRoleBinding": 1,
		"ConfigMap": 2, "DaemonSet": 1, "Deployment": 1, "Service": 1}
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
	if want := kube.PolicyRules(); !reflect.DeepEqual(r.clusterRole.Rules, want) {
		t.Errorf("ClusterRole rules %+v, want internal/kube's %+v", r.clusterRole.Rules, want)
	}
	if cfg := r.agentConfig.Data["config.yaml"]; !strings.Contains(cfg, "kubernetes:") || !strings.Contains(cfg, "k8s_attributes:") ||
		!strings.Contains(cfg, "otlp_grpc:") {
		t.Errorf("agent config lacks the kubernetes block, k8s_attributes or otlp_grpc:\n%s", cfg)
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
