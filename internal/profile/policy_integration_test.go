//go:build integration

package profile

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/capprof/capprof/internal/testenv"
)

// TestVAPOnTheAPIServer applies the vap format of the fixture's profiles
// to a real kube-apiserver (v1.35, where ValidatingAdmissionPolicy is GA)
// and creates pods: the policy rejects a pod of a profiled workload that
// adds a capability outside the proven set or does not drop ALL, naming the
// capability and the profile, and admits one that matches; pods of other
// workloads are left alone.
func TestVAPOnTheAPIServer(t *testing.T) {
	k := testenv.StartKube(t)
	for _, ns := range []string{"shop", "batch", "default"} {
		k.CreateNamespace(ns)
	}
	var out bytes.Buffer
	if err := Write(&out, FormatVAP, build(fixtureObservations())); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	adm := k.Client.AdmissionregistrationV1()
	policies := 0
	for _, obj := range decodeStrictAll(t, out.Bytes()) {
		var err error
		switch o := obj.(type) {
		case *admissionv1.ValidatingAdmissionPolicy:
			_, err = adm.ValidatingAdmissionPolicies().Create(ctx, o, metav1.CreateOptions{})
			policies++
		case *admissionv1.ValidatingAdmissionPolicyBinding:
			_, err = adm.ValidatingAdmissionPolicyBindings().Create(ctx, o, metav1.CreateOptions{})
		default:
			t.Fatalf("unexpected %T in the vap output", obj)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if policies != 4 {
		t.Fatalf("%d policies, want one per Kubernetes workload container of the fixture (4)", policies)
	}

	// web's pods: owned by its ReplicaSet web-<pod-template-hash>.
	web := func(name string, sc *corev1.SecurityContext) *corev1.Pod {
		return ownedPod("shop", name, "ReplicaSet", "web-7d4b9c", map[string]string{"pod-template-hash": "7d4b9c"}, "nginx", sc)
	}
	// The admission plugin loads new policies asynchronously: wait until
	// the first rejection, then every outcome is the policy's.
	bad := web("bad", secCtx([]corev1.Capability{"NET_BIND_SERVICE", "NET_ADMIN"}, []corev1.Capability{"ALL"}, false))
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for err = createPod(t, k, bad, true); err == nil; err = createPod(t, k, bad, true) {
		if time.Now().After(deadline) {
			t.Fatal("the policy did not reject a pod adding NET_ADMIN within 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	wantMessage(t, err, "container nginx of Deployment shop/web adds NET_ADMIN, not in its CapabilityProfile shop/deployment-web-nginx (proven: NET_BIND_SERVICE)")

	tests := []struct {
		name string
		pod  *corev1.Pod
		want string // "" admits
	}{
		{name: "the proven set, drop ALL", pod: web("good", secCtx([]corev1.Capability{"NET_BIND_SERVICE"}, []corev1.Capability{"ALL"}, false))},
		{name: "another spelling of the proven set", pod: web("spelt", secCtx([]corev1.Capability{"cap_net_bind_service"}, []corev1.Capability{"all"}, false))},
		{name: "nothing added", pod: web("none", secCtx(nil, []corev1.Capability{"ALL"}, false))},
		{name: "no drop ALL", pod: web("nodrop", secCtx([]corev1.Capability{"NET_BIND_SERVICE"}, nil, false)),
			want: "container nginx of Deployment shop/web must drop ALL capabilities (CapabilityProfile shop/deployment-web-nginx)"},
		{name: "no securityContext", pod: web("nosc", nil), want: "must drop ALL capabilities"},
		{name: "privileged", pod: web("priv", secCtx(nil, []corev1.Capability{"ALL"}, true)), want: "must not be privileged"},
		{name: "another Deployment's pod", pod: ownedPod("shop", "other", "ReplicaSet", "webapp-5f6g7h",
			map[string]string{"pod-template-hash": "5f6g7h"}, "nginx", secCtx([]corev1.Capability{"NET_ADMIN"}, nil, false))},
		{name: "a CronJob's pod", pod: ownedPod("batch", "backup-1", "Job", "backup-29471040", nil, "backup",
			secCtx([]corev1.Capability{"CHOWN", "SYS_ADMIN"}, []corev1.Capability{"ALL"}, false)),
			want: "container backup of CronJob batch/backup adds SYS_ADMIN, not in its CapabilityProfile batch/cronjob-backup-backup (proven: CHOWN, FOWNER)"},
		{name: "the bare pod", pod: ownedPod("default", "debug", "", "", nil, "shell",
			secCtx([]corev1.Capability{"NET_RAW", "NET_ADMIN", "SYS_TIME"}, []corev1.Capability{"ALL"}, false)),
			want: "container shell of Pod default/debug adds NET_ADMIN, SYS_TIME, not in its CapabilityProfile default/pod-debug-shell (proven: NET_RAW)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := createPod(t, k, tt.pod, false)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			wantMessage(t, err, tt.want)
		})
	}
}

// wantMessage checks that err is a rejection containing want.
func wantMessage(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want a rejection saying %q", err, want)
	}
}

// decodeStrictAll decodes every YAML document of out into its API type;
// unknown or duplicate fields are errors.
func decodeStrictAll(t *testing.T, out []byte) []any {
	t.Helper()
	dec := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(out)))
	var objs []any
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, _, err := dec.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("decode %s: %v", doc, err)
		}
		objs = append(objs, obj)
	}
}

// createPod creates pod, or only dry-runs it.
func createPod(t *testing.T, k *testenv.Kube, pod *corev1.Pod, dryRun bool) error {
	t.Helper()
	opts := metav1.CreateOptions{}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	_, err := k.Client.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, opts)
	return err
}

// ownedPod is a pod as a controller creates it: owned by ownerKind
// ownerName (none when ownerKind is ""), with one container.
func ownedPod(ns, name, ownerKind, ownerName string, labels map[string]string, container string, sc *corev1.SecurityContext) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: container, Image: "docker.io/library/busybox:1.36", SecurityContext: sc,
		}}},
	}
	if ownerKind != "" {
		apiVersion := "apps/v1"
		if ownerKind == "Job" {
			apiVersion = "batch/v1"
		}
		pod.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: apiVersion, Kind: ownerKind, Name: ownerName, UID: types.UID(testenv.PodUID()),
		}}
	}
	return pod
}

func secCtx(add, drop []corev1.Capability, privileged bool) *corev1.SecurityContext {
	return &corev1.SecurityContext{
		Capabilities: &corev1.Capabilities{Add: add, Drop: drop},
		Privileged:   &privileged,
	}
}

// stripComments drops the comment lines of a YAML document.
func stripComments(doc []byte) []byte {
	var out []byte
	for line := range bytes.Lines(doc) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line...)
		}
	}
	return out
}
