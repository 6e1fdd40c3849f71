package testenv

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"

	"github.com/capprof/capprof/api/v1alpha1"
)

// WaitRecordingStatus polls the CapabilityRecording name through client
// until its status satisfies ok, and returns that status. After timeout it
// fails the test with the last status and what more() says (a log tail).
func WaitRecordingStatus(t testing.TB, client dynamic.ResourceInterface, name string, timeout time.Duration,
	ok func(v1alpha1.CapabilityRecordingStatus) bool, more func() string) v1alpha1.CapabilityRecordingStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		u, err := client.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var rec v1alpha1.CapabilityRecording
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &rec); err != nil {
			t.Fatal(err)
		}
		if ok(rec.Status) {
			return rec.Status
		}
		if time.Now().After(deadline) {
			t.Fatalf("recording %s: status %+v after %v; %s", name, rec.Status, timeout, more())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
