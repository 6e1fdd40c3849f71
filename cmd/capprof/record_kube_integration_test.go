//go:build integration

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capprof/capprof/internal/kube"
	"github.com/capprof/capprof/internal/testenv"
)

// TestRecordWithKubeconfigAddsPodMetadata runs `capprof record --kubeconfig
// --node-name` against a real API server, as the agent's ServiceAccount,
// while dmesg fails in a real container of a pod on that node.
func TestRecordWithKubeconfigAddsPodMetadata(t *testing.T) {
	k := testenv.StartKube(t)
	cd := testenv.StartContainerd(t)
	k.CreateNamespace("shop")
	pod, err := k.Client.CoreV1().Pods("shop").Create(context.Background(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web", "tier": "front"}},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "app", Image: "busybox:1.37"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctr := cd.RunContainerInPod(string(pod.UID))
	k.SetContainersRunning("shop", "web", map[string]string{"app": ctr.ID})

	// dmesg until the recording ends: however long attaching and the
	// first sync take, some of them are recorded.
	stdout, stderr := recordWhileDmesg(t, cd, []testenv.Container{ctr}, "--duration", "4s", "--format", "json", "--host=false", "--caps", "CAP_SYSLOG",
		"--kubeconfig", k.AgentKubeconfig(kube.PolicyRules()), "--node-name", "node-1", "--kube-labels", "tier")

	found := false
	sc := bufio.NewScanner(strings.NewReader(stdout.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("not a JSON line: %v\n%s", err, sc.Text())
		}
		if rec["container.id"] != ctr.ID || rec["process.executable.path"] != "/bin/dmesg" {
			continue
		}
		found = true
		for key, want := range map[string]any{
			"k8s.namespace.name": "shop", "k8s.pod.name": "web", "k8s.pod.uid": string(pod.UID),
			"k8s.node.name": "node-1", "k8s.container.name": "app", "container.image.name": "busybox",
			"container.image.tag": "1.37", "k8s.pod.label.tier": "front",
		} {
			if rec[key] != want {
				t.Errorf("%s = %v, want %v", key, rec[key], want)
			}
		}
		if _, ok := rec["k8s.pod.label.app"]; ok {
			t.Error("label app exported with --kube-labels tier")
		}
	}
	if !found {
		t.Fatalf("no dmesg record of container %s in:\n%s\nstderr:\n%s", ctr.ID, stdout.String(), stderr.String())
	}
}

// TestRecordNamespaceSelectorRecordsOnlyThosePods runs `capprof record
// --namespace --selector` against a real API server, as the agent's
// ServiceAccount, with two pods of the namespace on the node failing dmesg:
// only the selected pod's checks are written, the other's are dropped in
// the kernel and counted in the summary, and nothing of the host is
// recorded.
func TestRecordNamespaceSelectorRecordsOnlyThosePods(t *testing.T) {
	k := testenv.StartKube(t)
	cd := testenv.StartContainerd(t)
	k.CreateNamespace("empire")
	ctrs := map[string]testenv.Container{}
	for name, class := range map[string]string{"xwing": "xwing", "tiefighter": "tiefighter"} {
		pod, err := k.Client.CoreV1().Pods("empire").Create(context.Background(), &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"class": class}},
			Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "spaceship", Image: "busybox:1.37"}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ctrs[name] = cd.RunContainerInPod(string(pod.UID))
		k.SetContainersRunning("empire", name, map[string]string{"spaceship": ctrs[name].ID})
	}

	stdout, stderr := recordWhileDmesg(t, cd, slices.Collect(maps.Values(ctrs)), "--duration", "4s", "--format", "json", "--caps", "CAP_SYSLOG",
		"--kubeconfig", k.AgentKubeconfig(kube.PolicyRules()), "--node-name", "node-1",
		"--namespace", "empire", "--selector", "class=xwing")

	seen := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(stdout.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("not a JSON line: %v\n%s", err, sc.Text())
		}
		name, _ := rec["k8s.pod.name"].(string)
		if name == "" {
			name = "(not a pod)"
		}
		seen[name]++
	}
	if seen["xwing"] == 0 || len(seen) != 1 {
		t.Errorf("records per pod %v, want xwing's only\nstderr:\n%s", seen, stderr.String())
	}
	summary := regexp.MustCompile(`checks outside the selection skipped" total=(\d+) per_capability="CAP_SYSLOG=\d+"`)
	if m := summary.FindStringSubmatch(stderr.String()); m == nil || m[1] == "0" {
		t.Errorf("no count of tiefighter's dropped checks in the summary:\n%s", stderr.String())
	}
}

// recordWhileDmesg runs capprof record with args while dmesg runs as
// nobody in each container, again and again until the recording ends
// (however long attaching and the first sync take, some are recorded),
// and returns what record printed; a non-zero exit fails the test.
func recordWhileDmesg(t *testing.T, cd *testenv.Containerd, ctrs []testenv.Container, args ...string) (stdout, stderr *bytes.Buffer) {
	t.Helper()
	stdout, stderr = new(bytes.Buffer), new(bytes.Buffer)
	done := make(chan int, 1)
	go func() { done <- run(append([]string{"record"}, args...), stdout, stderr) }()
	code := -1
	for code < 0 {
		for _, ctr := range ctrs {
			if out, err := cd.Exec(ctr, 65534, "dmesg"); err == nil {
				t.Fatalf("dmesg as nobody succeeded in the container:\n%s", out)
			}
		}
		select {
		case code = <-done:
		case <-time.After(300 * time.Millisecond):
		}
	}
	if code != 0 {
		t.Fatalf("record exited %d:\n%s", code, stderr.String())
	}
	return stdout, stderr
}
