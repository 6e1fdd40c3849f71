package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/capprof/capprof/internal/profile"
)

// shape is the simulated cluster.
type shape struct {
	nodes, podsPerNode int
	replicas           int     // pods of each Deployment, spread over nodes
	bareShare          float64 // share of pods that no Deployment owns
	namespaces         int
	agents             int // agent processes; node i sends through agent i % agents
	batch              int // records a request at most, as the agent's batch processor sends
}

// request is one OTLP export an agent would send: marshalled once, before
// the clock starts, so that the generator costs little while it runs.
type request struct {
	agent   int
	body    []byte
	records int
}

// expectation is what the gateways must make of the load: one profile per
// workload container, by profile id (profile.Key.String()), whose
// observations and checks are the records and checks sent of it.
type expectation struct {
	records, checks int64
	profiles        map[string]*profileTotal
}

type profileTotal struct{ observations, checks int64 }

// synthesize makes every node's requests: each pod is a copy of a sample pod
// (Deployment replicas of the sample's Deployment pods, the other pods of
// its other pods) with the node's, the pod's, its workload's and its
// containers' identities in place of the sample's, and every other
// attribute as recorded. Pod g (slot s of node n, g = s*nodes + n) is bare
// when the running share of bare pods crosses an integer there; the other
// pods are numbered in order and make Deployments of `replicas`
// consecutive pods, so a Deployment's replicas sit on different nodes.
func synthesize(sh shape, templates []podTemplate, now time.Time) ([]request, *expectation, error) {
	var deployed, bare []*podTemplate
	for i := range templates {
		if templates[i].deployed {
			deployed = append(deployed, &templates[i])
		} else {
			bare = append(bare, &templates[i])
		}
	}
	if len(deployed) == 0 || (len(bare) == 0 && sh.bareShare > 0) {
		return nil, nil, fmt.Errorf("the sample has %d Deployment pods and %d other pods: it needs both", len(deployed), len(bare))
	}
	shift := now.Sub(earliest(templates))
	exp := &expectation{profiles: map[string]*profileTotal{}}
	nodeLogs := make([]plog.Logs, sh.nodes)
	for n := range nodeLogs {
		nodeLogs[n] = plog.NewLogs()
	}
	var nDeployed, nBare int
	for g := range sh.nodes * sh.podsPerNode {
		node, slot := g%sh.nodes, g/sh.nodes
		id := podIdentity{
			node:      fmt.Sprintf("node-%05d", node),
			podIP:     fmt.Sprintf("10.%d.%d.%d", 64+node/256, node%256, slot+2),
			pidOffset: int64(slot) * 100000,
			cgroupID:  int64(g+1) * 1000,
			shift:     shift,
		}
		var t *podTemplate
		if math.Floor(float64(g+1)*sh.bareShare) > math.Floor(float64(g)*sh.bareShare) {
			t = bare[nBare%len(bare)]
			id.namespace = fmt.Sprintf("ns-%03d", nBare%sh.namespaces)
			id.podName = fmt.Sprintf("%s-%05d", t.name, nBare)
			id.workloadKind, id.workload = "Pod", id.podName
			nBare++
		} else {
			w, r := nDeployed/sh.replicas, nDeployed%sh.replicas
			t = deployed[(w+r)%len(deployed)]
			base, _ := t.logs.ResourceLogs().At(0).Resource().Attributes().Get(attrDeployment)
			id.namespace = fmt.Sprintf("ns-%03d", w%sh.namespaces)
			id.workloadKind, id.workload = "Deployment", fmt.Sprintf("%s-%05d", base.Str(), w)
			id.replicaSet = id.workload + "-" + hash(id.workload)[:10]
			id.podName = id.replicaSet + "-" + hash(id.node + "/" + strconv.Itoa(slot))[:5]
			nDeployed++
		}
		id.podUID = uuid(id.node + "/" + id.podName)
		id.copyPod(t, nodeLogs[node].ResourceLogs())
		exp.records += int64(t.records)
		exp.checks += t.checks
		for i := 0; i < t.logs.ResourceLogs().Len(); i++ {
			rl := t.logs.ResourceLogs().At(i)
			c, _ := rl.Resource().Attributes().Get(attrContainer)
			key := id.profileKey(c.Str())
			p := exp.profiles[key]
			if p == nil {
				p = &profileTotal{}
				exp.profiles[key] = p
			}
			eachRecord(rl, func(lr plog.LogRecord) {
				p.observations++
				p.checks += checksOf(lr)
			})
		}
	}
	var reqs []request
	for n, logs := range nodeLogs {
		for _, part := range split(logs, sh.batch) {
			body, err := plogotlp.NewExportRequestFromLogs(part).MarshalProto()
			if err != nil {
				return nil, nil, fmt.Errorf("marshal node %d's records: %w", n, err)
			}
			reqs = append(reqs, request{agent: n % sh.agents, body: body, records: part.LogRecordCount()})
		}
	}
	return reqs, exp, nil
}

// split cuts a node's records into requests of at most max records, at
// resource boundaries (a resource with more goes alone).
func split(logs plog.Logs, maxRecords int) []plog.Logs {
	var out []plog.Logs
	cur, n := plog.NewLogs(), 0
	for i := 0; i < logs.ResourceLogs().Len(); i++ {
		rl := logs.ResourceLogs().At(i)
		k := 0
		eachRecord(rl, func(plog.LogRecord) { k++ })
		if n > 0 && n+k > maxRecords {
			out = append(out, cur)
			cur, n = plog.NewLogs(), 0
		}
		rl.CopyTo(cur.ResourceLogs().AppendEmpty())
		n += k
	}
	if n > 0 {
		out = append(out, cur)
	}
	return out
}

func earliest(templates []podTemplate) time.Time {
	var first pcommon.Timestamp
	for _, t := range templates {
		for i := 0; i < t.logs.ResourceLogs().Len(); i++ {
			eachRecord(t.logs.ResourceLogs().At(i), func(lr plog.LogRecord) {
				if ts := lr.Timestamp(); ts != 0 && (first == 0 || ts < first) {
					first = ts
				}
			})
		}
	}
	return first.AsTime()
}

// podIdentity is what tells one simulated pod from the sample's and from
// the others: its node, names, uids, container ids, cgroups and pids.
type podIdentity struct {
	node, namespace, podName, podUID, podIP string
	workloadKind, workload, replicaSet      string
	pidOffset, cgroupID                     int64
	shift                                   time.Duration
}

// copyPod appends the template's resources and records, with this pod's
// identities, to dst.
func (id *podIdentity) copyPod(t *podTemplate, dst plog.ResourceLogsSlice) {
	for i := 0; i < t.logs.ResourceLogs().Len(); i++ {
		rl := dst.AppendEmpty()
		t.logs.ResourceLogs().At(i).CopyTo(rl)
		res := rl.Resource().Attributes()
		var pairs []string // the sample's ids inside strings, and this pod's
		if uid, ok := res.Get(attrPodUID); ok && uid.Str() != "" {
			pairs = append(pairs, uid.Str(), id.podUID)
		}
		if cid, ok := res.Get("container.id"); ok && cid.Str() != "" {
			pairs = append(pairs, cid.Str(), hash(id.podUID+"/"+cid.Str()))
		}
		replace := strings.NewReplacer(pairs...)
		id.rewrite(res, replace)
		// What the agent's receiver sets for its load_balancing exporter to
		// route on (the sample predates it).
		c, _ := res.Get(attrContainer)
		res.PutStr(profile.AttrKey, id.profileKey(c.Str()))
		eachRecord(rl, func(lr plog.LogRecord) {
			id.rewrite(lr.Attributes(), replace)
			lr.SetTimestamp(pcommon.NewTimestampFromTime(lr.Timestamp().AsTime().Add(id.shift)))
			lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(lr.ObservedTimestamp().AsTime().Add(id.shift)))
			if body := lr.Body().Str(); strings.Contains(body, " to pid ") {
				lr.Body().SetStr(body[:strings.LastIndex(body, " ")+1] + id.pid(body[strings.LastIndex(body, " ")+1:]))
			}
		})
	}
}

// profileKey is the key of the profile of this pod's container, as the
// connector names it (and profile.AppendKey, on the agent).
func (id *podIdentity) profileKey(container string) string {
	return "k8s " + id.namespace + "/" + id.workloadKind + "/" + id.workload + "/" + container
}

// rewrite sets the identity attributes of m, wherever (resource or record)
// the agent put them; replace swaps the sample's pod uid and container id
// inside strings (the cgroup path).
func (id *podIdentity) rewrite(m pcommon.Map, replace *strings.Replacer) {
	m.Range(func(k string, v pcommon.Value) bool {
		switch k {
		case "host.name", "k8s.node.name":
			v.SetStr(id.node)
		case attrNamespace:
			v.SetStr(id.namespace)
		case "k8s.pod.name":
			v.SetStr(id.podName)
		case attrPodUID:
			v.SetStr(id.podUID)
		case "k8s.pod.ip":
			v.SetStr(id.podIP)
		case attrDeployment, "k8s.pod.label.app.kubernetes.io/name":
			v.SetStr(id.workload)
		case "k8s.replicaset.name":
			v.SetStr(id.replicaSet)
		case "container.id", "linux.cgroup.path":
			v.SetStr(replace.Replace(v.Str()))
		case "linux.cgroup.id":
			v.SetInt(id.cgroupID + v.Int()%1000)
		case "process.pid", "process.parent_pid", "thread.id":
			v.SetInt(v.Int() + id.pidOffset)
		case "process.exec_id", "process.parent.exec_id":
			v.SetStr(id.execID(v.Str()))
		}
		return true
	})
}

func (id *podIdentity) pid(s string) string {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return s
	}
	return strconv.FormatInt(n+id.pidOffset, 10)
}

// execID rewrites an exec id (base64 of "node:boot ns:pid", internal/proc)
// for this pod's node and pids; one it cannot read stays.
func (id *podIdentity) execID(s string) string {
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return s
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != 3 {
		return s
	}
	return base64.RawStdEncoding.EncodeToString([]byte(id.node + ":" + parts[1] + ":" + id.pid(parts[2])))
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// uuid is a version-4-shaped uid derived from s.
func uuid(s string) string {
	h := hash(s)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}
