package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/capprof/capprof/test/collectortest"
	"github.com/capprof/capprof/test/procstat"
)

// The gateway's own metrics that the run reads (Prometheus names).
const (
	metricAccepted = "otelcol_receiver_accepted_log_records"
	metricAdded    = "otelcol_connector_capability_profile_records_added"
	metricProfiles = "otelcol_connector_capability_profile_profiles"
	metricEvicted  = "otelcol_connector_capability_profile_profiles_evicted"
)

// AgentConfig is the agent tier's config file.
const AgentConfig = "test/benchcluster/agent-config.yaml"

// settings are one run's fixed inputs.
type settings struct {
	bin         string
	dir         string
	agents      int
	senders     int
	rounds      int
	maxProfiles int
	timeout     time.Duration
}

// gatewayResult is what one gateway did in a run.
type gatewayResult struct {
	records    float64 // OTLP records it accepted
	profiles   float64 // profiles it held at the end
	evicted    float64
	cpu        time.Duration // while the load ran
	flushCPU   time.Duration // from the end of the load to its exit: emit and persist
	idle, busy procstat.Memory
	emitted    map[string]profileTotal // profile records it wrote at shutdown, by id
}

// result is one run: the load through the agents to `replicas` gateways.
type result struct {
	replicas int
	wall     time.Duration // first request sent to the last record added to a profile
	gateways []gatewayResult
	agentCPU time.Duration
	genCPU   time.Duration
	// The whole machine's CPU time meanwhile (other jobs' too): busy and
	// in all, so busy/total is how loaded its cores were.
	machineBusy, machineTotal time.Duration
}

// runOnce starts the gateways and the agents, sends the load, waits until
// every record is in a profile, measures, and stops them (gateways emit
// their profiles at shutdown).
func runOnce(s settings, replicas int, reqs []request, exp *expectation) (*result, error) {
	dir := filepath.Join(s.dir, fmt.Sprintf("replicas-%d", replicas))
	var gws []*collectortest.Gateway
	defer func() {
		for _, g := range gws {
			g.Kill()
		}
	}()
	var endpoints []string
	for i := range replicas {
		gdir := filepath.Join(dir, fmt.Sprintf("gateway-%d", i))
		if err := os.MkdirAll(gdir, 0o755); err != nil {
			return nil, err
		}
		g, err := collectortest.LaunchGateway(s.bin, gdir, filepath.Join(gdir, "storage"),
			"CHECK_EXPORTERS=[debug]", fmt.Sprintf("PROFILE_MAX=%d", s.maxProfiles))
		if err != nil {
			return nil, err
		}
		gws = append(gws, g)
		endpoints = append(endpoints, g.OTLP)
	}
	var agents []*collectortest.Collector
	defer func() {
		for _, a := range agents {
			a.Kill()
		}
	}()
	var agentAddrs []string
	for range s.agents {
		addr, err := collectortest.PickFreeAddr()
		if err != nil {
			return nil, err
		}
		a, err := collectortest.Launch(s.bin, collectortest.CollectorReady, []string{AgentConfig},
			[]string{"AGENT_OTLP_ENDPOINT=" + addr, "GATEWAYS=[" + strings.Join(endpoints, ", ") + "]"})
		if err != nil {
			return nil, fmt.Errorf("agent: %w", err)
		}
		agents = append(agents, a)
		agentAddrs = append(agentAddrs, addr)
	}

	res := &result{replicas: replicas, gateways: make([]gatewayResult, replicas)}
	for i, g := range gws {
		m, err := procstat.ReadMemory(g.Pid(), s.bin)
		if err != nil {
			return nil, err
		}
		res.gateways[i].idle = m
	}
	cpu0, err := cpuTimes(gws, agents)
	if err != nil {
		return nil, err
	}
	busy0, total0, err := procstat.MachineCPU()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	if err := send(ctx, agentAddrs, reqs, s.rounds, s.senders); err != nil {
		return nil, err
	}
	if err := waitAdded(ctx, gws, agents, float64(exp.records)*float64(s.rounds)); err != nil {
		return nil, err
	}
	res.wall = time.Since(start)
	busy1, total1, err := procstat.MachineCPU()
	if err != nil {
		return nil, err
	}
	res.machineBusy, res.machineTotal = busy1-busy0, total1-total0
	cpu1, err := cpuTimes(gws, agents)
	if err != nil {
		return nil, err
	}
	for i, g := range gws {
		gr := &res.gateways[i]
		gr.cpu = cpu1[i] - cpu0[i]
		if gr.busy, err = procstat.ReadMemory(g.Pid(), s.bin); err != nil {
			return nil, err
		}
		text, err := g.ScrapeMetrics()
		if err != nil {
			return nil, err
		}
		gr.records, _ = collectortest.MetricSum(text, metricAccepted)
		gr.profiles, _ = collectortest.MetricSum(text, metricProfiles)
		gr.evicted, _ = collectortest.MetricSum(text, metricEvicted)
	}
	for i := range agents {
		res.agentCPU += cpu1[replicas+i] - cpu0[replicas+i]
	}
	res.genCPU = cpu1[len(cpu1)-1] - cpu0[len(cpu0)-1]

	if err := stop(res, gws, agents, cpu1); err != nil {
		return nil, err
	}
	return res, nil
}

// waitAdded waits until the gateways have added want records to profiles,
// and fails early when an agent drops data (its retries exhausted).
func waitAdded(ctx context.Context, gws []*collectortest.Gateway, agents []*collectortest.Collector, want float64) error {
	for {
		added := 0.0
		for _, g := range gws {
			text, err := g.ScrapeMetrics()
			if err != nil {
				return err
			}
			v, _ := collectortest.MetricSum(text, metricAdded)
			added += v
		}
		if added >= want {
			return nil
		}
		for _, a := range agents {
			if out := a.Output.String(); strings.Contains(out, "Dropping data") {
				return fmt.Errorf("an agent dropped records (%.0f of %.0f added to profiles):\n%s", added, want, out)
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("the gateways added %.0f of %.0f records to profiles: %w", added, want, ctx.Err())
		}
		time.Sleep(100 * time.Millisecond) // polling the gateways' counters: nothing to wait on
	}
}

// stop stops the agents, then each gateway, which emits and persists its
// profiles at shutdown: the CPU it used from the end of the load (cpu) to
// its exit, and the profiles it wrote, go into res.
func stop(res *result, gws []*collectortest.Gateway, agents []*collectortest.Collector, cpu []time.Duration) error {
	for _, a := range agents {
		if err := a.Terminate(time.Minute); err != nil {
			return fmt.Errorf("agent: %w", err)
		}
	}
	for i, g := range gws {
		if err := g.Terminate(5 * time.Minute); err != nil {
			return fmt.Errorf("gateway %d: %w", i, err)
		}
		ru, ok := g.ExitState().SysUsage().(*syscall.Rusage)
		if !ok {
			return fmt.Errorf("gateway %d: no resource usage", i)
		}
		res.gateways[i].flushCPU = time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) - cpu[i]
		var err error
		if res.gateways[i].emitted, err = emittedProfiles(g.Profiles); err != nil {
			return fmt.Errorf("gateway %d: %w", i, err)
		}
	}
	return nil
}

// cpuTimes reads the CPU time of the gateways, the agents and this process,
// in that order.
func cpuTimes(gws []*collectortest.Gateway, agents []*collectortest.Collector) ([]time.Duration, error) {
	var pids []int
	for _, g := range gws {
		pids = append(pids, g.Pid())
	}
	for _, a := range agents {
		pids = append(pids, a.Pid())
	}
	pids = append(pids, os.Getpid())
	out := make([]time.Duration, len(pids))
	for i, pid := range pids {
		d, err := procstat.CPUTime(pid)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// emittedProfiles reads the profile records a gateway wrote, by profile id.
func emittedProfiles(path string) (map[string]profileTotal, error) {
	logs, err := collectortest.ReadLogsFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]profileTotal{}
	collectortest.EachRecord(logs, func(_ pcommon.Resource, lr plog.LogRecord) {
		if lr.EventName() != "linux.capability.profile" {
			return
		}
		id, _ := lr.Attributes().Get("linux.capability.profile.id")
		p := out[id.Str()]
		p.observations += collectortest.IntValue(lr, "linux.capability.profile.observations")
		p.checks += collectortest.IntValue(lr, "linux.capability.profile.checks")
		out[id.Str()] = p
	})
	return out, nil
}
