//go:build e2e

package k8se2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"

	"github.com/capprof/capprof/internal/testenv"
)

// containerdDefaultCaps is what `ctr run` grants unless told otherwise
// (containerd's oci.populateDefaultUnixSpec); `drop: [ALL]` drops each.
var containerdDefaultCaps = []string{
	"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
	"SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
}

// agent is the agent container: the agent image run by containerd as the
// kubelet would run the DaemonSet's pod on this node.
type agent struct {
	id, log, cgroup string
	pid             int
	health          string
}

// agentEnv is what the downward API and the kubelet would put in the
// agent's environment, plus the gateway address and where the node's
// kubelet puts its pods' cgroups.
type agentEnv struct {
	nodeName string
	// podIP is the agent's pod IP: a loopback address of its own, so that
	// its health endpoint collides neither with the other agent's nor with
	// a collector of another test listening on 127.0.0.1:13133.
	podIP string
	// cgroupRoot is the node's kubelet --cgroup-root: its pods' cgroups
	// are <cgroupRoot>/kubepods/...
	cgroupRoot string
	gateway    string       // host:port of the gateway's OTLP/gRPC receiver
	api        *rest.Config // the API server, as the service's address
	token      string       // the service account's bound token
}

// buildAgentImage runs `make image` into the test's directory under the
// DaemonSet's image name and returns the tarball.
func buildAgentImage(t *testing.T, image string) string {
	t.Helper()
	tarball := filepath.Join(t.TempDir(), "agent-image.tar")
	cmd := exec.Command("make", "image", "IMAGE="+image, "IMAGE_TAR="+tarball)
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	return tarball
}

// runAgent starts the DaemonSet's container under containerd with its
// security context, host PID namespace and volumes; the ConfigMap volume
// holds config, the service account volume the token. The pod network is
// the host's (no CNI here), so POD_IP is agentPodIP.
func runAgent(t *testing.T, ctrd *testenv.Containerd, ds *appsv1.DaemonSet, configMap *corev1.ConfigMap, env agentEnv) *agent {
	t.Helper()
	spec := ds.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("the DaemonSet has %d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	dir := t.TempDir()
	a := &agent{id: "capprof-agent-" + testenv.ContainerID()[:12], log: filepath.Join(dir, "agent.log"), health: env.podIP + ":13133"}
	flags := []string{"--net-host", "--log-uri", "file://" + a.log}

	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Fatal("the agent container has no security context")
	}
	if sc.Privileged != nil && *sc.Privileged {
		flags = append(flags, "--privileged")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		flags = append(flags, "--allow-new-privs")
	}
	if sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
		flags = append(flags, "--read-only")
	}
	if sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault {
		flags = append(flags, "--seccomp")
	}
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		// ctr runs the image's user, which `make image` sets to 0:0.
		t.Fatalf("runAsUser %v: the e2e runs the image's user 0", sc.RunAsUser)
	}
	for _, d := range sc.Capabilities.Drop {
		if d != "ALL" {
			flags = append(flags, "--cap-drop", "CAP_"+string(d))
			continue
		}
		for _, cp := range containerdDefaultCaps {
			flags = append(flags, "--cap-drop", "CAP_"+cp)
		}
	}
	for _, add := range sc.Capabilities.Add {
		flags = append(flags, "--cap-add", "CAP_"+string(add))
	}
	if spec.HostPID {
		flags = append(flags, "--with-ns", fmt.Sprintf("pid:/proc/%d/ns/pid", os.Getpid()))
	}
	if mem := c.Resources.Limits.Memory(); !mem.IsZero() {
		flags = append(flags, "--memory-limit", strconv.FormatInt(mem.Value(), 10))
	}

	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok {
			t.Fatalf("volume mount %s names no volume", m.Name)
		}
		var src string
		switch {
		case v.HostPath != nil:
			src = v.HostPath.Path
		case v.ConfigMap != nil && strings.HasPrefix(configMap.Name, v.ConfigMap.Name):
			src = filepath.Join(dir, "configmap")
			writeFiles(t, src, configMap.Data)
		case v.Secret != nil:
			// The TLS Secret of the loadbalancing exporter, which this
			// agent does not use (below): mounted empty.
			src = filepath.Join(dir, "secret-"+v.Name)
			writeFiles(t, src, nil)
		default:
			t.Fatalf("volume %s: only hostPath and the agent ConfigMap are known", v.Name)
		}
		options := "rbind"
		if m.ReadOnly {
			options += ":ro"
		}
		flags = append(flags, "--mount", fmt.Sprintf("type=bind,src=%s,dst=%s,options=%s", src, m.MountPath, options))
	}
	// The projected service account token, as the kubelet mounts it.
	ca, err := os.ReadFile(env.api.TLSClientConfig.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	saDir := filepath.Join(dir, "serviceaccount")
	writeFiles(t, saDir, map[string]string{"token": env.token, "ca.crt": string(ca), "namespace": ds.Namespace})
	flags = append(flags, "--mount", "type=bind,src="+saDir+",dst=/var/run/secrets/kubernetes.io/serviceaccount,options=rbind:ro")

	host, port, ok := strings.Cut(strings.TrimPrefix(env.api.Host, "https://"), ":")
	if !ok {
		t.Fatalf("API server address %q has no port", env.api.Host)
	}
	flags = append(flags, "--env", "KUBERNETES_SERVICE_HOST="+host, "--env", "KUBERNETES_SERVICE_PORT="+port)
	for _, e := range c.Env {
		flags = append(flags, "--env", e.Name+"="+envValue(t, e, c, env))
	}

	// A DaemonSet pod's cgroup, as the kubelet's cgroupfs driver makes it.
	nodePods := path.Join(env.cgroupRoot, "kubepods")
	a.cgroup = path.Join(nodePods, "besteffort", "pod"+testenv.ContainerID()[:32], a.id)
	args := append([]string{"/otelcol-capprof"}, c.Args...)
	args = append(args,
		// Two nodes share this machine's kernel, so each agent would see
		// the other node's containers too; on a real cluster the node
		// boundary keeps them apart. Here each agent records only its own
		// node's pod cgroups (its kubelet's tree), with the receiver's
		// cgroups.include set over the DaemonSet's config.
		"--set=receivers.capabilities.cgroups.include=["+nodePods+"]",
		// A restarted API server may refuse the first watches until its
		// RBAC caches fill, and the informer then backs off (up to 30 s):
		// the pods created just after the restart (step 5c) reach the
		// agent later than the default max_wait of 5 s would hold their
		// checks. A node expecting API server restarts sets it the same.
		"--set=receivers.capabilities.kubernetes.max_wait=45s",
		// The agents share the host's network here (no CNI), where each
		// pod has its own in the cluster: only one could bind the
		// Collector's own metrics at localhost:8888.
		"--set=service.telemetry.metrics.level=none",
		// One gateway, plain text, instead of the loadbalancing exporter
		// over the gateway replicas with mutual TLS, which
		// test/e2e/scale_integration_test.go runs.
		"--set=exporters.otlp_grpc.endpoint="+env.gateway, "--set=exporters.otlp_grpc.tls.insecure=true",
		"--set=service.pipelines.logs.exporters=[otlp_grpc]")
	a.pid = ctrd.Run(a.id, c.Image, a.cgroup, flags, args...)
	a.waitReady(t)
	return a
}

// envValue resolves a downward-API variable as the kubelet would here.
func envValue(t *testing.T, e corev1.EnvVar, c corev1.Container, env agentEnv) string {
	t.Helper()
	switch {
	case e.ValueFrom == nil:
		return e.Value
	case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName":
		return env.nodeName
	case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.podIP":
		return env.podIP
	case e.ValueFrom.ResourceFieldRef != nil && e.ValueFrom.ResourceFieldRef.Resource == "limits.memory":
		return strconv.FormatInt(c.Resources.Limits.Memory().Value(), 10)
	}
	t.Fatalf("env %s: unknown source %+v", e.Name, e.ValueFrom)
	return ""
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// waitReady polls the health endpoint as the readiness probe does, until
// the receiver has attached (its log says so) and the endpoint answers.
func (a *agent) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		log, _ := os.ReadFile(a.log)
		if strings.Contains(string(log), "recording capability checks") {
			if resp, err := http.Get("http://" + a.health + "/"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", a.pid)); err != nil || time.Now().After(deadline) {
			t.Fatalf("agent not ready (pid %d):\n%s", a.pid, a.logTail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (a *agent) logTail() string {
	log, _ := os.ReadFile(a.log)
	if len(log) > 8000 {
		log = log[len(log)-8000:]
	}
	return string(log)
}

// status returns the agent's /proc/PID/status lines that say what it runs with.
func (a *agent) status(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", a.pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

// waitLog waits until the agent's log has said msg n times.
func (a *agent) waitLog(t *testing.T, msg string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for a.logCount(msg) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not log %q %d times in %s:\n%s", msg, n, timeout, a.logTail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// logCount is how often the agent's log says msg.
func (a *agent) logCount(msg string) int {
	log, _ := os.ReadFile(a.log)
	return strings.Count(string(log), msg)
}

// stop stops the agent as the kubelet does, with SIGTERM, and waits for it
// to exit: the Collector sends what it holds before it does.
func (a *agent) stop(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(a.pid, syscall.SIGTERM); err != nil {
		t.Fatalf("stop the agent: %v", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", a.pid)); err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent (pid %d) did not exit on SIGTERM:\n%s", a.pid, a.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
