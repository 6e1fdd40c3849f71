package kube

import (
	"context"
	"errors"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// These tests use client-go's fake clientset: they test the resolver's
// logic (caching, UID checks, fallback); internal/kube's integration test
// resolves owners against a real API server with the agent's RBAC.

func ownedBy(kind, name string, uid types.UID) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{{Kind: kind, Name: name, UID: uid, Controller: &yes}}
}

func podOwnedBy(kind, name string, uid types.UID, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", Labels: labels, OwnerReferences: ownedBy(kind, name, uid)}}
}

func gets(client *fake.Clientset) int {
	n := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "get" {
			n++
		}
	}
	return n
}

func TestOwnerResolver(t *testing.T) {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-abc", UID: "rs-1", OwnerReferences: ownedBy("Deployment", "web", "d-1")}}
	bareRS := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "bare", UID: "rs-2"}}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "backup-1", UID: "j-1", OwnerReferences: ownedBy("CronJob", "backup", "cj-1")}}
	client := fake.NewClientset(rs, bareRS, job)
	r := newOwnerResolver(client, time.Second)
	ctx := context.Background()

	tests := []struct {
		name string
		pod  *corev1.Pod
		want owners
		gets int // GETs made by this resolve
	}{
		{name: "no owner", pod: &corev1.Pod{}, want: owners{resolved: true}},
		{name: "daemonset", pod: podOwnedBy("DaemonSet", "agent", "ds-1", nil), want: owners{DaemonSet: "agent", resolved: true}},
		{name: "statefulset", pod: podOwnedBy("StatefulSet", "pg", "ss-1", nil), want: owners{StatefulSet: "pg", resolved: true}},
		{name: "deployment through its replicaset", pod: podOwnedBy("ReplicaSet", "web-abc", "rs-1", nil),
			want: owners{Deployment: "web", ReplicaSet: "web-abc", through: []string{"rs-1"}, resolved: true}, gets: 1},
		{name: "the replicaset is cached", pod: podOwnedBy("ReplicaSet", "web-abc", "rs-1", nil),
			want: owners{Deployment: "web", ReplicaSet: "web-abc", through: []string{"rs-1"}, resolved: true}},
		{name: "replicaset without deployment", pod: podOwnedBy("ReplicaSet", "bare", "rs-2", nil),
			want: owners{ReplicaSet: "bare", through: []string{"rs-2"}, resolved: true}, gets: 1},
		{name: "cronjob through its job", pod: podOwnedBy("Job", "backup-1", "j-1", nil),
			want: owners{Job: "backup-1", CronJob: "backup", through: []string{"j-1"}, resolved: true}, gets: 1},
		{name: "replicaset recreated under the same name", pod: podOwnedBy("ReplicaSet", "web-abc", "rs-old", map[string]string{"pod-template-hash": "abc"}),
			want: owners{Deployment: "web", ReplicaSet: "web-abc", through: []string{"rs-old"}}, gets: 1},
		{name: "missing replicaset falls back to pod-template-hash", pod: podOwnedBy("ReplicaSet", "api-7f9", "rs-3", map[string]string{"pod-template-hash": "7f9"}),
			want: owners{Deployment: "api", ReplicaSet: "api-7f9", through: []string{"rs-3"}}, gets: 1},
		{name: "missing replicaset without the label", pod: podOwnedBy("ReplicaSet", "api-7f9", "rs-3", nil),
			want: owners{ReplicaSet: "api-7f9", through: []string{"rs-3"}}, gets: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := gets(client)
			got, err := r.resolve(ctx, tt.pod)
			if (err != nil) == tt.want.resolved {
				t.Errorf("error %v with resolved %v", err, tt.want.resolved)
			}
			if got.Deployment != tt.want.Deployment || got.ReplicaSet != tt.want.ReplicaSet || got.DaemonSet != tt.want.DaemonSet ||
				got.StatefulSet != tt.want.StatefulSet || got.Job != tt.want.Job || got.CronJob != tt.want.CronJob ||
				got.resolved != tt.want.resolved || len(got.through) != len(tt.want.through) {
				t.Errorf("resolve = %+v, want %+v", got, tt.want)
			}
			if n := gets(client) - before; n != tt.gets {
				t.Errorf("%d GETs, want %d", n, tt.gets)
			}
		})
	}

	r.forget([]string{"rs-1"})
	before := gets(client)
	if _, err := r.resolve(ctx, podOwnedBy("ReplicaSet", "web-abc", "rs-1", nil)); err != nil || gets(client)-before != 1 {
		t.Errorf("a forgotten ReplicaSet was not fetched again: err %v", err)
	}
}

func TestOwnerResolverAPIErrorIsNotCached(t *testing.T) {
	client := fake.NewClientset()
	down := true
	client.PrependReactor("get", "jobs", func(k8stesting.Action) (bool, runtime.Object, error) {
		if down {
			return true, nil, errors.New("connection refused")
		}
		return true, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "j", UID: "j-1", OwnerReferences: ownedBy("CronJob", "cj", "cj-1")}}, nil
	})
	r := newOwnerResolver(client, time.Second)
	pod := podOwnedBy("Job", "j", "j-1", nil)
	if o, err := r.resolve(context.Background(), pod); err == nil || o.resolved || o.Job != "j" || o.CronJob != "" {
		t.Fatalf("with the API down: %+v, %v", o, err)
	}
	down = false
	if o, err := r.resolve(context.Background(), pod); err != nil || !o.resolved || o.CronJob != "cj" {
		t.Fatalf("after recovery: %+v, %v", o, err)
	}
}
