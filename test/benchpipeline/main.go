// Command benchpipeline runs the user-space record path's benchmarks of
// this tree and of a base revision side by side, alternating them in one
// run (the machines are shared and noisy), and reports records per
// CPU-second of each and their ratio: decoding and attributing a check
// event (controller BenchmarkHandleCheck, one CPU), mapping checks to plog.Logs
// (checklogs BenchmarkLogs, one CPU) and the whole path receiver → batch →
// otlp exporter → local OTLP sink (BenchmarkPipeline, the sink's decoding
// included). Benchmarks the base may not have run in this tree only: what
// pdata alone costs for the mapping's records (BenchmarkFloor), and the
// whole path with a sink that counts records without decoding them
// (BenchmarkPipelineAgent: the agent's path alone).
//
// CPU time is the benchmark process's own (user + system, every thread:
// the garbage collector's too), so "per CPU-second" is "per core".
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/capprof/capprof/test/benchbase"
)

// bench is one benchmark: its package, its -test.bench pattern and how
// many records one run of it maps.
type bench struct {
	name    string
	pkg     string
	pattern string
	args    []string
	records int
	// thisTreeOnly: the base has no such benchmark, so only this tree's
	// figure is reported.
	thisTreeOnly bool
}

func main() {
	base := flag.String("base", "", "git revision to compare with (required)")
	rounds := flag.Int("rounds", 5, "alternating rounds; the median is reported")
	logsOps := flag.Int("logs-batches", 2000, "BenchmarkLogs batches of 1,000 checks a run")
	pipelineRecords := flag.Int("pipeline-records", 300000, "BenchmarkPipeline records a run")
	handled := flag.Int("handle-checks", 2000000, "BenchmarkHandleCheck checks a run")
	flag.Parse()
	if *base == "" {
		log.Fatal("benchpipeline: -base REV is required (the revision to compare with)")
	}
	benches := []bench{
		{name: "decode and attribute a check", pkg: "./internal/controller/", pattern: "^BenchmarkHandleCheck$",
			args: []string{"-test.cpu", "1", "-test.benchtime", fmt.Sprintf("%dx", *handled)}, records: *handled},
		{name: "map to plog.Logs", pkg: "./checklogs/", pattern: "^BenchmarkLogs$",
			args: []string{"-test.cpu", "1", "-test.benchtime", fmt.Sprintf("%dx", *logsOps)}, records: *logsOps * 1000},
		{name: "end to end, gzip", pkg: "./receiver/capabilitiesreceiver/", pattern: "^BenchmarkPipeline$/^compression=gzip$",
			args: []string{"-test.benchtime", fmt.Sprintf("%dx", *pipelineRecords)}, records: *pipelineRecords},
		{name: "end to end, no compression", pkg: "./receiver/capabilitiesreceiver/", pattern: "^BenchmarkPipeline$/^compression=none$",
			args: []string{"-test.benchtime", fmt.Sprintf("%dx", *pipelineRecords)}, records: *pipelineRecords},
		{name: "pdata's floor for the mapping's records", pkg: "./checklogs/", pattern: "^BenchmarkFloor$", thisTreeOnly: true,
			args: []string{"-test.cpu", "1", "-test.benchtime", fmt.Sprintf("%dx", *logsOps)}, records: *logsOps * 1000},
		{name: "agent's path, gzip (sink counts, does not decode)", pkg: "./receiver/capabilitiesreceiver/", pattern: "^BenchmarkPipelineAgent$/^compression=gzip$", thisTreeOnly: true,
			args: []string{"-test.benchtime", fmt.Sprintf("%dx", *pipelineRecords)}, records: *pipelineRecords},
		{name: "agent's path, no compression (sink counts, does not decode)", pkg: "./receiver/capabilitiesreceiver/", pattern: "^BenchmarkPipelineAgent$/^compression=none$", thisTreeOnly: true,
			args: []string{"-test.benchtime", fmt.Sprintf("%dx", *pipelineRecords)}, records: *pipelineRecords},
	}
	tmp, err := os.MkdirTemp("", "benchpipeline-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	baseTree := filepath.Join(tmp, "base")
	if err := benchbase.Checkout(*base, baseTree); err != nil {
		log.Fatal(err)
	}
	trees := []struct{ label, dir string }{{"base " + *base, baseTree}, {"this tree", "."}}
	bins := make(map[string]string) // tree dir + pkg -> test binary
	for _, tr := range trees {
		for _, b := range benches {
			key := tr.dir + b.pkg
			if _, ok := bins[key]; ok {
				continue
			}
			bin := filepath.Join(tmp, fmt.Sprintf("bin%d.test", len(bins)))
			if err := benchbase.Run(tr.dir, "go", "test", "-c", "-o", bin, b.pkg); err != nil {
				log.Fatalf("build %s of %s: %v", b.pkg, tr.label, err)
			}
			bins[key] = bin
		}
	}
	rates := make(map[string][]float64)
	for r := 0; r < *rounds; r++ {
		for _, b := range benches {
			for _, tr := range trees {
				if b.thisTreeOnly && tr.dir != "." {
					continue
				}
				cpu, err := cpuTime(bins[tr.dir+b.pkg], filepath.Join(tr.dir, b.pkg), b)
				if err != nil {
					log.Fatalf("%s, %s: %v", b.name, tr.label, err)
				}
				rates[tr.label+b.name] = append(rates[tr.label+b.name], float64(b.records)/cpu.Seconds())
			}
		}
		fmt.Fprintf(os.Stderr, "round %d of %d done\n", r+1, *rounds)
	}
	fmt.Printf("| stage | %s records/CPU-s | this tree records/CPU-s | ratio |\n| --- | ---: | ---: | ---: |\n", *base)
	for _, b := range benches {
		cur := median(rates[trees[1].label+b.name])
		if b.thisTreeOnly {
			fmt.Printf("| %s | - | %.0f | - |\n", b.name, cur)
			continue
		}
		old := median(rates[trees[0].label+b.name])
		fmt.Printf("| %s | %.0f | %.0f | %.2fx |\n", b.name, old, cur, cur/old)
	}
}

// cpuTime runs one benchmark binary in its package directory (for its
// testdata) and returns the CPU time the process used.
func cpuTime(bin, dir string, b bench) (time.Duration, error) {
	args := append([]string{"-test.run", "^$", "-test.bench", b.pattern}, b.args...)
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stderr = dir, os.Stderr
	if out, err := cmd.Output(); err != nil {
		return 0, fmt.Errorf("%v\n%s", err, out)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, fmt.Errorf("no resource usage of %s", bin)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
