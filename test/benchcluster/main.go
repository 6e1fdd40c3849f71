// Command benchcluster simulates a large cluster's load on the gateway tier
// (make bench-cluster): every node's agent sends the records of its pods'
// capability checks, and the agents' load_balancing exporters route them by
// workload to 1, 2 and 4 gateways, each a real otelcol-capprof with the
// gateway config of deploy/base (OTLP → capability_profile connector with
// file_storage → a file exporter; the raw checks to debug, as deployed).
//
// The load is a recorded sample of what the agents of make e2e sent
// (testdata/agent-checks.otlp.jsonl.gz: the records of four pods, as the
// gateway's file exporter wrote them; recorded with `go test -tags e2e -run
// 'TestStarWarsDemo$' ./test/k8se2e/ -args -report-fixture=FILE` and
// gzipped), copied for -nodes × -pods pods with
// each node's, pod's, workload's, container's, cgroup's and process's
// identity varied and every other attribute as recorded. It is marshalled
// once before the clock starts and sent over OTLP/gRPC to -agents agent
// processes (agent-config.yaml: otlp receiver → load_balancing, static
// resolver), node i through agent i % -agents.
//
// For each gateway count it reports the records per second (wall clock, the
// first request to the last record added to a profile), per gateway and in
// all; the CPU time each tier used, as records per CPU-second (the fair unit
// on a machine shared with other jobs); each gateway's profiles and records
// and their balance (max/mean); the gateways' resident memory and its growth
// per 10,000 profiles; and the CPU the gateways spent at shutdown emitting
// and persisting their profiles. It fails unless every workload's profile
// came out of exactly one gateway with the exact records and checks sent.
//
//	go run ./test/benchcluster -bin bin/otelcol-capprof [-nodes 1000] [-pods 30] [-gateways 1,2,4]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	bin := flag.String("bin", "bin/otelcol-capprof", "the otelcol-capprof binary")
	sample := flag.String("sample", "test/benchcluster/testdata/agent-checks.otlp.jsonl.gz", "the recorded agents' records")
	nodes := flag.Int("nodes", 1000, "nodes, each with an agent's records")
	pods := flag.Int("pods", 30, "pods a node")
	replicas := flag.Int("replicas", 3, "pods of each Deployment, on as many nodes")
	bare := flag.Float64("bare", 0.1, "share of pods that no Deployment owns (each its own workload)")
	namespaces := flag.Int("namespaces", 100, "namespaces the workloads are spread over")
	gateways := flag.String("gateways", "1,2,4", "gateway counts to run, comma-separated")
	agents := flag.Int("agents", 2, "agent processes the nodes' records go through")
	senders := flag.Int("senders", 8, "concurrent exports to the agents")
	rounds := flag.Int("rounds", 1, "times every node sends its records (a unique-mode agent re-sends a key each flush)")
	batch := flag.Int("batch", 500, "records a request at most (the agent's batch processor's send_batch_max_size)")
	maxProfiles := flag.Int("max-profiles", 0, "the gateways' PROFILE_MAX; 0: every workload's, so that none is evicted")
	timeout := flag.Duration("timeout", 10*time.Minute, "how long one gateway count's load may take")
	flag.Parse()
	counts, err := parseCounts(*gateways)
	if err == nil && (*nodes < 1 || *pods < 1 || *replicas < 1 || *namespaces < 1 || *agents < 1 ||
		*senders < 1 || *rounds < 1 || *batch < 1 || *bare < 0 || *bare > 1) {
		err = fmt.Errorf("-nodes, -pods, -replicas, -namespaces, -agents, -senders, -rounds and -batch must be at least 1, -bare within [0, 1]")
	}
	if err == nil {
		err = run(*bin, *sample, shape{nodes: *nodes, podsPerNode: *pods, replicas: *replicas, bareShare: *bare,
			namespaces: *namespaces, agents: *agents, batch: *batch}, counts,
			settings{agents: *agents, senders: *senders, rounds: *rounds, maxProfiles: *maxProfiles, timeout: *timeout})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchcluster:", err)
		os.Exit(1)
	}
}

func parseCounts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-gateways %q: want counts of at least 1, comma-separated", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(bin, samplePath string, sh shape, counts []int, s settings) error {
	var err error
	if s.bin, err = filepath.Abs(bin); err != nil {
		return err
	}
	if _, err := os.Stat(s.bin); err != nil {
		return fmt.Errorf("the collector binary: %w (make build-otelcol)", err)
	}
	templates, err := loadSample(samplePath)
	if err != nil {
		return err
	}
	began := time.Now()
	reqs, exp, err := synthesize(sh, templates, began)
	if err != nil {
		return err
	}
	if s.maxProfiles == 0 {
		s.maxProfiles = len(exp.profiles)
	}
	if s.dir, err = os.MkdirTemp("", "benchcluster-"); err != nil {
		return err
	}
	defer os.RemoveAll(s.dir)
	bytes := 0
	for _, r := range reqs {
		bytes += len(r.body)
	}
	fmt.Printf("cluster: %d nodes x %d pods = %d pods (%.0f%% bare), %d workload profiles in %d namespaces; from %d sample pods\n",
		sh.nodes, sh.podsPerNode, sh.nodes*sh.podsPerNode, sh.bareShare*100, len(exp.profiles), sh.namespaces, len(templates))
	fmt.Printf("load: %d records (%d checks) a round x %d rounds, in %d requests of at most %d records (%.1f MB a round), through %d agents; made in %s\n",
		exp.records, exp.checks, s.rounds, len(reqs), sh.batch, float64(bytes)/1e6, s.agents, time.Since(began).Round(time.Millisecond))
	fmt.Printf("machine: %d CPUs, load average %s\n", runtime.NumCPU(), loadAverage())
	var results []*result
	for _, n := range counts {
		fmt.Fprintf(os.Stderr, "benchcluster: %d gateway(s)...\n", n)
		r, err := runOnce(s, n, reqs, exp)
		if err != nil {
			return fmt.Errorf("%d gateways: %w", n, err)
		}
		results = append(results, r)
	}
	fmt.Printf("machine after: load average %s\n\n", loadAverage())
	report(os.Stdout, results, exp, s.rounds)
	return verify(results, exp, s.rounds)
}
