package testenv

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/capprof/capprof/internal/prereq"
)

// KubeAPIServerVersion is the kube-apiserver test/kube/build-apiserver.sh
// builds and StartKube runs.
const KubeAPIServerVersion = "v1.35.4"

// Kube is a real Kubernetes control plane without nodes: etcd and
// kube-apiserver on loopback ports, with RBAC enforced. Pods are stored as
// written (no scheduler, no kubelet): tests set spec.nodeName and patch the
// status themselves.
type Kube struct {
	// Config authenticates as an admin (group system:masters).
	Config *rest.Config
	// Client is a clientset for Config.
	Client kubernetes.Interface

	t         testing.TB
	dir       string
	binary    string
	token     string // the admin's
	port      int
	etcdURL   string
	etcd      *process
	apiserver *process
}

// process is a started command; done closes when it has exited and been
// reaped.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// StartKube starts etcd and kube-apiserver for the test, waits until the
// API server is ready and stops both at cleanup, removing their data.
// kube-apiserver comes from `make kube-apiserver` (or $CAPPROF_KUBE_APISERVER),
// etcd from the etcd-server package.
func StartKube(t testing.TB) *Kube {
	t.Helper()
	binary := kubeAPIServerBinary()
	if _, err := os.Stat(binary); err != nil {
		prereq.Missing(t, "kube-apiserver at %s (run make kube-apiserver)", binary)
	}
	prereq.RequireCommands(t, "etcd")
	dir, err := os.MkdirTemp("", "capprof-kube-")
	if err != nil {
		t.Fatal(err)
	}
	k := &Kube{t: t, dir: dir, binary: binary}
	t.Cleanup(k.stop)

	k.token = randomHex(16)
	k.writeFiles()
	k.startEtcd()
	k.port = FreePortFor(t)
	k.StartAPIServer()

	k.Config = &rest.Config{
		Host:            "https://127.0.0.1:" + strconv.Itoa(k.port),
		BearerToken:     k.token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: k.caFile()},
		// The default 5 QPS slows tests that create many objects.
		QPS: 100, Burst: 200,
	}
	if k.Client, err = kubernetes.NewForConfig(k.Config); err != nil {
		t.Fatal(err)
	}
	return k
}

// kubeAPIServerBinary is where build-apiserver.sh caches the binary.
func kubeAPIServerBinary() string {
	if p := os.Getenv("CAPPROF_KUBE_APISERVER"); p != "" {
		return p
	}
	cache := os.Getenv("CAPPROF_KUBE_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "capprof-kube")
	}
	return filepath.Join(cache, "kube-apiserver-"+KubeAPIServerVersion)
}

// writeFiles writes the static token file and the service-account signing
// key pair (generated here rather than with openssl: one dependency fewer).
func (k *Kube) writeFiles() {
	k.t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		k.t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		k.t.Fatal(err)
	}
	files := map[string][]byte{
		"tokens.csv": []byte(k.token + ",admin,admin-uid,system:masters\n"),
		"sa.key":     pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		"sa.pub":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(k.dir, name), data, 0o600); err != nil {
			k.t.Fatal(err)
		}
	}
}

func (k *Kube) startEtcd() {
	k.t.Helper()
	client, peer := FreePortFor(k.t), FreePortFor(k.t)
	k.etcdURL = "http://127.0.0.1:" + strconv.Itoa(client)
	k.etcd = k.start("etcd", "etcd",
		"--name", "capprof-test",
		"--data-dir", filepath.Join(k.dir, "etcd"),
		"--listen-client-urls", k.etcdURL,
		"--advertise-client-urls", k.etcdURL,
		"--listen-peer-urls", "http://127.0.0.1:"+strconv.Itoa(peer),
		"--initial-advertise-peer-urls", "http://127.0.0.1:"+strconv.Itoa(peer),
		"--initial-cluster", "capprof-test=http://127.0.0.1:"+strconv.Itoa(peer),
	)
	k.waitHTTP(k.etcd, "etcd", k.etcdURL+"/health", nil)
}

// StartAPIServer starts kube-apiserver on the same port, certificates and
// etcd as before: after StopAPIServer, clients reconnect to the same
// server. StartKube calls it once.
func (k *Kube) StartAPIServer() {
	k.t.Helper()
	if k.apiserver != nil {
		k.t.Fatal("kube-apiserver is already running")
	}
	k.apiserver = k.start("kube-apiserver", k.binary,
		"--etcd-servers", k.etcdURL,
		"--bind-address", "127.0.0.1",
		"--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(k.port),
		"--cert-dir", filepath.Join(k.dir, "certs"),
		"--token-auth-file", filepath.Join(k.dir, "tokens.csv"),
		"--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", filepath.Join(k.dir, "sa.pub"),
		"--service-account-signing-key-file", filepath.Join(k.dir, "sa.key"),
		"--service-cluster-ip-range", "10.0.0.0/24",
		// No controller-manager creates the default ServiceAccounts.
		"--disable-admission-plugins", "ServiceAccount",
		"--allow-privileged=true",
	)
	// Readiness only: the certificate is created by this very start, and
	// the clients the tests use verify it.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	k.waitHTTP(k.apiserver, "kube-apiserver", "https://127.0.0.1:"+strconv.Itoa(k.port)+"/readyz",
		func(req *http.Request) (*http.Response, error) {
			req.Header.Set("Authorization", "Bearer "+k.token)
			return client.Do(req)
		})
}

// StopAPIServer stops kube-apiserver (etcd keeps the data), as a restart or
// a network outage looks to clients.
func (k *Kube) StopAPIServer() {
	k.t.Helper()
	if k.apiserver == nil {
		k.t.Fatal("kube-apiserver is not running")
	}
	stopProcess(k.apiserver)
	k.apiserver = nil
}

// ServiceAccountConfig creates the ServiceAccount namespace/name (and the
// namespace) if missing and returns a configuration that authenticates as
// it with a bound token from the TokenRequest API, as a pod's projected
// token does: tests prove that a ClusterRole is enough for the agent.
func (k *Kube) ServiceAccountConfig(namespace, name string) *rest.Config {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if _, err := k.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		k.t.Fatalf("create namespace %s: %v", namespace, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	if _, err := k.Client.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		k.t.Fatalf("create service account %s/%s: %v", namespace, name, err)
	}
	expiry := int64(3600)
	tr, err := k.Client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}},
		metav1.CreateOptions{})
	if err != nil {
		k.t.Fatalf("request token for %s/%s: %v", namespace, name, err)
	}
	cfg := rest.CopyConfig(k.Config)
	cfg.BearerToken = tr.Status.Token
	return cfg
}

// WriteKubeconfig writes cfg as a kubeconfig file in the test's directory
// and returns its path, for code that takes --kubeconfig.
func (k *Kube) WriteKubeconfig(cfg *rest.Config) string {
	k.t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthority: cfg.CAFile}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kc.CurrentContext = "test"
	f, err := os.CreateTemp(k.dir, "kubeconfig-")
	if err != nil {
		k.t.Fatal(err)
	}
	f.Close()
	if err := clientcmd.WriteToFile(*kc, f.Name()); err != nil {
		k.t.Fatal(err)
	}
	return f.Name()
}

// caFile is the API server's self-signed certificate bundle (its serving
// certificate and the CA that signed it), written at its first start and
// reused at restarts.
func (k *Kube) caFile() string { return filepath.Join(k.dir, "certs", "apiserver.crt") }

func (k *Kube) start(name, binary string, args ...string) *process {
	k.t.Helper()
	logFile, err := os.OpenFile(filepath.Join(k.dir, name+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		k.t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		k.t.Fatalf("start %s: %v", name, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p
}

// waitHTTP polls url until it answers 200; a process that exits or a
// minute without an answer fails the test with the process's log.
func (k *Kube) waitHTTP(p *process, name, url string, do func(*http.Request) (*http.Response, error)) {
	k.t.Helper()
	if do == nil {
		do = http.DefaultClient.Do
	}
	deadline := time.Now().Add(time.Minute)
	for {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if resp, err := do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.done:
			log, _ := os.ReadFile(filepath.Join(k.dir, name+".log"))
			k.t.Fatalf("%s exited before it was ready:\n%s", name, tail(log, 4000))
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(k.dir, name+".log"))
			k.t.Fatalf("%s not ready at %s after a minute:\n%s", name, url, tail(log, 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop stops the API server and etcd by their PIDs and removes the data.
func (k *Kube) stop() {
	if k.apiserver != nil {
		stopProcess(k.apiserver)
		k.apiserver = nil
	}
	if k.etcd != nil {
		stopProcess(k.etcd)
		k.etcd = nil
	}
	_ = os.RemoveAll(k.dir)
}

// stopProcess asks the process (by its PID) to stop, kills it after 10 s,
// and waits until it is reaped.
func stopProcess(p *process) {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// CreateNamespace creates a namespace (no error if it exists).
func (k *Kube) CreateNamespace(name string) {
	k.t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := k.Client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		k.t.Fatalf("create namespace %s: %v", name, err)
	}
}

// ImageID is the image id SetContainersRunning reports for image, as a
// runtime resolves it: the same for every container of the image.
func ImageID(image string) string {
	sum := sha256.Sum256([]byte(image))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// SetContainersRunning does what the kubelet would: it patches the pod's
// status to Running with a containerd container id for each named
// container (regular, init or ephemeral, as the spec has it).
func (k *Kube) SetContainersRunning(namespace, name string, ids map[string]string) {
	k.t.Helper()
	ctx := context.Background()
	pod, err := k.Client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		k.t.Fatalf("get pod %s/%s: %v", namespace, name, err)
	}
	status := func(c string, image string) corev1.ContainerStatus {
		st := corev1.ContainerStatus{Name: c, Image: image, ImageID: ImageID(image)}
		if id, ok := ids[c]; ok {
			st.ContainerID = "containerd://" + id
			st.Ready, st.Started = true, ptr(true)
			st.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.Now()}
		} else {
			st.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		}
		return st
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses, pod.Status.EphemeralContainerStatuses = nil, nil, nil
	for _, c := range pod.Spec.InitContainers {
		pod.Status.InitContainerStatuses = append(pod.Status.InitContainerStatuses, status(c.Name, c.Image))
	}
	for _, c := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, status(c.Name, c.Image))
	}
	for _, c := range pod.Spec.EphemeralContainers {
		pod.Status.EphemeralContainerStatuses = append(pod.Status.EphemeralContainerStatuses, status(c.Name, c.Image))
	}
	if _, err := k.Client.CoreV1().Pods(namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		k.t.Fatalf("update status of pod %s/%s: %v", namespace, name, err)
	}
}

// ContainerID returns a random 64-hex container id.
func ContainerID() string { return randomHex(32) }

// PodUID returns a random pod UID.
func PodUID() string { return randomUUID() }

func ptr[T any](v T) *T { return &v }

// AgentKubeconfig creates the ServiceAccount capprof-system/capprof, grants
// it exactly rules through a ClusterRole and returns a kubeconfig file that
// authenticates as it: tests then run with the agent's real access.
func (k *Kube) AgentKubeconfig(rules []rbacv1.PolicyRule) string {
	k.t.Helper()
	return k.RoleKubeconfig("capprof", rules)
}

// RoleKubeconfig creates the ServiceAccount capprof-system/name, grants it
// exactly rules through a ClusterRole (and binding) of the same name and
// returns a kubeconfig file that authenticates as it.
func (k *Kube) RoleKubeconfig(name string, rules []rbacv1.PolicyRule) string {
	k.t.Helper()
	ctx := context.Background()
	cfg := k.ServiceAccountConfig("capprof-system", name)
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
	if _, err := k.Client.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		k.t.Fatalf("create cluster role: %v", err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "capprof-system", Name: name}},
	}
	if _, err := k.Client.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		k.t.Fatalf("create cluster role binding: %v", err)
	}
	return k.WriteKubeconfig(cfg)
}
