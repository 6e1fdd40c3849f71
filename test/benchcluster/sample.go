package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"os"

	"go.opentelemetry.io/collector/pdata/plog"
)

// Resource attributes the sample's pods are told apart and shaped by.
const (
	attrPodUID     = "k8s.pod.uid"
	attrNamespace  = "k8s.namespace.name"
	attrDeployment = "k8s.deployment.name"
	attrContainer  = "k8s.container.name"
	attrCount      = "linux.capability.count"
)

// podTemplate is one pod of the recorded sample: the ResourceLogs (one per
// process) that the agents sent of it, as they sent them.
type podTemplate struct {
	name     string
	deployed bool // a Deployment's replica; else a pod no Deployment owns
	logs     plog.Logs
	records  int
	checks   int64 // the checks its records stand for (checksOf)
}

// loadSample reads the recorded sample (gzipped OTLP/JSON lines, as the
// gateway's file exporter wrote what the agents sent) and splits it by pod.
// Every resource must name its pod and namespace, as the agent's records do
// with kubernetes.enabled.
func loadSample(path string) ([]podTemplate, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	byUID := map[string]*podTemplate{}
	var pods []*podTemplate
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		logs, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: not OTLP/JSON: %w", path, line, err)
		}
		for i := 0; i < logs.ResourceLogs().Len(); i++ {
			rl := logs.ResourceLogs().At(i)
			attrs := rl.Resource().Attributes()
			uid, ok := attrs.Get(attrPodUID)
			ns, nsOK := attrs.Get(attrNamespace)
			if !ok || !nsOK || uid.Str() == "" || ns.Str() == "" {
				return nil, fmt.Errorf("%s:%d: a resource without %s and %s: not an agent's record with kubernetes.enabled",
					path, line, attrPodUID, attrNamespace)
			}
			p := byUID[uid.Str()]
			if p == nil {
				name, _ := attrs.Get("k8s.pod.name")
				_, deployed := attrs.Get(attrDeployment)
				p = &podTemplate{name: name.Str(), deployed: deployed, logs: plog.NewLogs()}
				byUID[uid.Str()] = p
				pods = append(pods, p)
			}
			rl.CopyTo(p.logs.ResourceLogs().AppendEmpty())
			eachRecord(rl, func(lr plog.LogRecord) {
				p.records++
				p.checks += checksOf(lr)
			})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	out := make([]podTemplate, len(pods))
	for i, p := range pods {
		out[i] = *p
	}
	return out, nil
}

func eachRecord(rl plog.ResourceLogs, fn func(plog.LogRecord)) {
	for j := 0; j < rl.ScopeLogs().Len(); j++ {
		records := rl.ScopeLogs().At(j).LogRecords()
		for k := 0; k < records.Len(); k++ {
			fn(records.At(k))
		}
	}
}

// checksOf is the checks a record stands for, as the profile builder counts
// them: its linux.capability.count, or one without.
func checksOf(lr plog.LogRecord) int64 {
	n, _ := lr.Attributes().Get(attrCount)
	return max(n.Int(), 1)
}
