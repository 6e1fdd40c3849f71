package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// shapeOf is a map's attribute keys and value types, in order.
func shapeOf(m pcommon.Map) string {
	var b strings.Builder
	m.Range(func(k string, v pcommon.Value) bool {
		b.WriteString(k + ":" + v.Type().String() + " ")
		return true
	})
	return b.String()
}

// TestSynthesize checks that the simulated pods' records have the sample's
// shape exactly, none of its identities, and the expected workloads: a
// Deployment's replicas on different nodes, every bare pod its own.
func TestSynthesize(t *testing.T) {
	templates, err := loadSample("testdata/agent-checks.otlp.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	sampleShapes := map[string]bool{}
	sampleIDs := map[string]bool{}
	for _, tp := range templates {
		for i := 0; i < tp.logs.ResourceLogs().Len(); i++ {
			rl := tp.logs.ResourceLogs().At(i)
			res := rl.Resource().Attributes()
			sampleShapes["resource "+shapeOf(res)] = true
			for _, k := range []string{"host.name", attrPodUID, "container.id", "k8s.pod.name"} {
				v, _ := res.Get(k)
				sampleIDs[v.Str()] = true
			}
			eachRecord(rl, func(lr plog.LogRecord) { sampleShapes["record "+shapeOf(lr.Attributes())] = true })
		}
	}
	sh := shape{nodes: 5, podsPerNode: 4, replicas: 2, bareShare: 0.2, namespaces: 3, agents: 2, batch: 40}
	reqs, exp, err := synthesize(sh, templates, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var records int64
	podsOf := map[string][]string{} // Deployment -> its pods' nodes
	bare := map[string]bool{}
	for _, r := range reqs {
		req := plogotlp.NewExportRequest()
		if err := req.UnmarshalProto(r.body); err != nil {
			t.Fatal(err)
		}
		logs := req.Logs()
		if n := logs.LogRecordCount(); n != r.records || (n > sh.batch && logs.ResourceLogs().Len() > 1) {
			t.Errorf("a request of %d records (%d said), %d resources", n, r.records, logs.ResourceLogs().Len())
		}
		for i := 0; i < logs.ResourceLogs().Len(); i++ {
			rl := logs.ResourceLogs().At(i)
			res := rl.Resource().Attributes()
			if !sampleShapes["resource "+shapeOf(res)] {
				t.Errorf("a resource of another shape than the sample's: %s", shapeOf(res))
			}
			for _, k := range []string{"host.name", attrPodUID, "container.id", "k8s.pod.name"} {
				if v, _ := res.Get(k); sampleIDs[v.Str()] {
					t.Errorf("%s %q is the sample's", k, v.Str())
				}
			}
			path, _ := res.Get("linux.cgroup.path")
			uid, _ := res.Get(attrPodUID)
			cid, _ := res.Get("container.id")
			if !strings.Contains(path.Str(), "pod"+uid.Str()+"/") || !strings.HasSuffix(path.Str(), cid.Str()) {
				t.Errorf("cgroup path %q does not name pod %s and container %s", path.Str(), uid.Str(), cid.Str())
			}
			node, _ := res.Get("k8s.node.name")
			pod, _ := res.Get("k8s.pod.name")
			if d, ok := res.Get(attrDeployment); ok {
				podsOf[d.Str()] = append(podsOf[d.Str()], node.Str()+" "+pod.Str())
			} else {
				bare[pod.Str()] = true
			}
			eachRecord(rl, func(lr plog.LogRecord) {
				records++
				if !sampleShapes["record "+shapeOf(lr.Attributes())] {
					t.Errorf("a record of another shape than the sample's: %s", shapeOf(lr.Attributes()))
				}
			})
		}
	}
	if records != exp.records {
		t.Errorf("%d records sent, %d expected", records, exp.records)
	}
	pods := sh.nodes * sh.podsPerNode
	if len(bare) != pods/5 || len(podsOf) != (pods-pods/5)/sh.replicas {
		t.Errorf("%d bare pods and %d Deployments, want %d and %d", len(bare), len(podsOf), pods/5, (pods-pods/5)/sh.replicas)
	}
	for d, p := range podsOf {
		slices.Sort(p)
		p = slices.Compact(p)
		nodes := map[string]bool{}
		for _, np := range p {
			nodes[strings.Fields(np)[0]] = true
		}
		if len(p) != sh.replicas || len(nodes) != sh.replicas {
			t.Errorf("Deployment %s: pods %v, want %d on as many nodes", d, p, sh.replicas)
		}
	}
	if len(exp.profiles) != len(bare)+len(podsOf) {
		t.Errorf("%d profiles expected, want one per workload container: %d", len(exp.profiles), len(bare)+len(podsOf))
	}
}
