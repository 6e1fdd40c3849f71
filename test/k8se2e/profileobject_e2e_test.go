//go:build e2e

package k8se2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"

	"github.com/capprof/capprof/api/v1alpha1"
	"github.com/capprof/capprof/internal/testenv"
	"github.com/capprof/capprof/test/collectortest"
)

// checkProfileObjects reads the CapabilityProfile objects the gateway
// wrote in namespace default (after the API server's restart, by the
// client it made before): one per profile record, with the record's advice
// and counts. It logs them as `kubectl get capabilityprofiles -A` shows
// them, through the API's Table response (the README quotes it), and checks
// that table's cells too.
func checkProfileObjects(t *testing.T, kube *testenv.Kube, records map[string]plog.LogRecord) {
	t.Helper()
	client, err := dynamic.NewForConfig(kube.Config)
	if err != nil {
		t.Fatal(err)
	}
	list, err := client.Resource(v1alpha1.SchemeGroupVersion.WithResource(v1alpha1.ResourceCapabilityProfiles)).
		Namespace("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list CapabilityProfiles: %v", err)
	}
	objects := map[string]v1alpha1.CapabilityProfile{} // by profile id, as the records name them
	for _, u := range list.Items {
		var o v1alpha1.CapabilityProfile
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &o); err != nil {
			t.Fatal(err)
		}
		objects[fmt.Sprintf("k8s %s/%s/%s/%s", o.Namespace, o.Spec.Workload.Kind, o.Spec.Workload.Name, o.Spec.Container)] = o
	}
	if got, want := slices.Sorted(maps.Keys(objects)), slices.Sorted(maps.Keys(records)); !slices.Equal(got, want) {
		t.Fatalf("CapabilityProfiles of namespace default: %v, want one per profile record %v", got, want)
	}
	byName := map[string]v1alpha1.CapabilityProfile{}
	for id, o := range objects {
		byName[o.Name] = o
		rec := records[id]
		st := o.Status
		if want := collectortest.IntValue(rec, "linux.capability.profile.checks"); st.Checks != want {
			t.Errorf("%s: status.checks = %d, want the profile record's %d", o.Name, st.Checks, want)
		}
		if want := collectortest.IntValue(rec, "linux.capability.profile.observations"); st.Observations != want {
			t.Errorf("%s: status.observations = %d, want %d", o.Name, st.Observations, want)
		}
		if st.Advice == nil {
			t.Errorf("%s: no advice", o.Name)
			continue
		}
		for field, pair := range map[string][2][]string{
			"add":    {st.Advice.Add, collectortest.StringList(rec, "linux.capability.profile.recommended.add")},
			"drop":   {st.Advice.Drop, collectortest.StringList(rec, "linux.capability.profile.recommended.drop")},
			"denied": {st.Advice.Denied, collectortest.StringList(rec, "linux.capability.profile.denied")},
		} {
			if !slices.Equal(nonNil(pair[0]), nonNil(pair[1])) {
				t.Errorf("%s: status.advice.%s = %v, want the record's %v", o.Name, field, pair[0], pair[1])
			}
		}
		if want := collectortest.StringList(rec, "linux.capability.profile.hosts"); !slices.Equal(st.Hosts, want) {
			t.Errorf("%s: status.hosts = %v, want %v", o.Name, st.Hosts, want)
		}
	}

	table := testenv.GetTable(t, kube.Config, "/apis/"+v1alpha1.SchemeGroupVersion.String()+"/"+v1alpha1.ResourceCapabilityProfiles)
	t.Logf("kubectl get capabilityprofiles -A:\n%s", testenv.FormatTable(t, table, time.Now()))
	rows := 0
	for _, r := range testenv.Rows(t, table) {
		if r.Namespace != "default" {
			continue
		}
		rows++
		o, ok := byName[fmt.Sprint(r.Cells["Name"])]
		if !ok {
			t.Errorf("table row %v names no object", r.Cells)
			continue
		}
		for col, want := range map[string]any{
			"Workload": o.Spec.Workload.Name, "Container": o.Spec.Container,
			"PSS": o.Status.Advice.PSSLevel, "Checks": float64(o.Status.Checks),
		} {
			if r.Cells[col] != want {
				t.Errorf("%s: column %s = %v, want %v", o.Name, col, r.Cells[col], want)
			}
		}
	}
	if rows != len(objects) {
		t.Errorf("the table has %d rows of namespace default, want %d", rows, len(objects))
	}
}

// nonNil makes an empty list and no list the same.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
