package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// figures are a run's derived numbers.
type figures struct {
	records, profiles   float64
	rate                float64   // records/s, all gateways
	perGateway          []float64 // records/s of each
	gatewayCPU          time.Duration
	perGatewayCPU       float64 // records per gateway CPU-second
	perAgentCPU         float64 // records per agent-tier CPU-second
	profileBal, recBal  float64 // max/mean over the gateways
	rssMiB, rssIdleMiB  float64 // all gateways
	rssPer10k           float64 // MiB of RSS growth per 10,000 profiles
	flushPer10k         float64 // gateway CPU-s to emit and persist 10,000 profiles
	machineBusy, ourCPU float64 // share of the machine's CPU time: busy, and ours
}

func figuresOf(r *result) figures {
	var f figures
	var recs, profs []float64
	var busy, idle, flush float64
	for _, g := range r.gateways {
		f.records += g.records
		f.profiles += g.profiles
		recs = append(recs, g.records)
		profs = append(profs, g.profiles)
		f.perGateway = append(f.perGateway, g.records/r.wall.Seconds())
		f.gatewayCPU += g.cpu
		busy += float64(g.busy.Total) / 1024
		idle += float64(g.idle.Total) / 1024
		flush += g.flushCPU.Seconds()
	}
	f.rate = f.records / r.wall.Seconds()
	f.perGatewayCPU = f.records / f.gatewayCPU.Seconds()
	f.perAgentCPU = f.records / r.agentCPU.Seconds()
	f.profileBal, f.recBal = maxOverMean(profs), maxOverMean(recs)
	f.rssMiB, f.rssIdleMiB = busy, idle
	f.rssPer10k = (busy - idle) / f.profiles * 1e4
	f.flushPer10k = flush / f.profiles * 1e4
	f.machineBusy = r.machineBusy.Seconds() / r.machineTotal.Seconds()
	f.ourCPU = (f.gatewayCPU + r.agentCPU + r.genCPU).Seconds() / r.machineTotal.Seconds()
	return f
}

func maxOverMean(v []float64) float64 {
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return slices.Max(v) / (sum / float64(len(v)))
}

func report(out io.Writer, results []*result, exp *expectation, rounds int) {
	fmt.Fprintln(out, "| gateways | wall s | records/s, all | records/s, each gateway | gateway CPU-s | records/gateway CPU-s | records/agent CPU-s | profiles, each | profiles max/mean | records max/mean | gateway RSS MiB, idle → loaded | MiB per 10k profiles | emit+persist CPU-s per 10k profiles | machine busy (ours) |")
	fmt.Fprintln(out, "| ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	figs := make([]figures, len(results))
	for i, r := range results {
		f := figuresOf(r)
		figs[i] = f
		var each, profs []string
		for j, g := range r.gateways {
			each = append(each, fmt.Sprintf("%.0f", f.perGateway[j]))
			profs = append(profs, fmt.Sprintf("%.0f", g.profiles))
		}
		fmt.Fprintf(out, "| %d | %.1f | %.0f | %s | %.1f | %.0f | %.0f | %s | %.2f | %.2f | %.0f → %.0f | %.1f | %.2f | %.0f%% (%.0f%%) |\n",
			r.replicas, r.wall.Seconds(), f.rate, strings.Join(each, " / "), f.gatewayCPU.Seconds(), f.perGatewayCPU,
			f.perAgentCPU, strings.Join(profs, " / "), f.profileBal, f.recBal, f.rssIdleMiB, f.rssMiB, f.rssPer10k,
			f.flushPer10k, f.machineBusy*100, f.ourCPU*100)
	}
	fmt.Fprintln(out)
	base := figs[0]
	for i, r := range results[1:] {
		f := figs[i+1]
		// With a core per replica the busiest replica sets the pace: n
		// replicas at this run's records per CPU-second, divided by the
		// record imbalance.
		capacity := float64(r.replicas) * f.perGatewayCPU / f.recBal /
			(float64(results[0].replicas) * base.perGatewayCPU / base.recBal)
		fmt.Fprintf(out, "%d vs %d gateways: wall-clock throughput %.2fx; with a core per gateway (records per gateway CPU-second, busiest gateway's share) %.2fx\n",
			r.replicas, results[0].replicas, f.rate/base.rate, capacity)
	}
	fmt.Fprintf(out, "every run: %d records, %d checks and %d profiles expected (%d round(s))\n",
		exp.records*int64(rounds), exp.checks*int64(rounds), len(exp.profiles), rounds)
}

// verify checks that each run made exactly one profile per workload, on
// one gateway, with the records and checks sent of it, and evicted none.
func verify(results []*result, exp *expectation, rounds int) error {
	var errs []error
	for _, r := range results {
		seen := map[string]int{} // profile id -> gateway
		var split, wrong int
		for i, g := range r.gateways {
			if g.evicted > 0 {
				errs = append(errs, fmt.Errorf("%d gateways: gateway %d evicted %.0f profiles", r.replicas, i, g.evicted))
			}
			for id, p := range g.emitted {
				if _, dup := seen[id]; dup {
					split++
				}
				seen[id] = i
				e := exp.profiles[id]
				if e == nil || p.observations != e.observations*int64(rounds) || p.checks != e.checks*int64(rounds) {
					wrong++
				}
			}
		}
		switch {
		case split > 0 || wrong > 0 || len(seen) != len(exp.profiles):
			errs = append(errs, fmt.Errorf("%d gateways: %d profiles of %d expected, %d on more than one gateway, %d with other records or checks than sent",
				r.replicas, len(seen), len(exp.profiles), split, wrong))
		default:
			fmt.Printf("%d gateway(s): exact: each of the %d profiles on one gateway, with the records and checks sent\n", r.replicas, len(seen))
		}
	}
	return errors.Join(errs...)
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
