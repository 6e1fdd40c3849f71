//go:build linux

package capabilitiesreceiver

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/exporter/otlpexporter"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/processor/processortest"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // the otlp exporter compresses by default

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/check/checktest"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/tracer"
	"github.com/capprof/capprof/receiver/capabilitiesreceiver/internal/metadatatest"
)

// logsSink is an OTLP/gRPC logs endpoint that counts the records it gets.
type logsSink struct {
	plogotlp.UnimplementedGRPCServer
	records atomic.Int64
}

func (s *logsSink) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	s.records.Add(int64(req.Logs().LogRecordCount()))
	return plogotlp.NewExportResponse(), nil
}

// floodRecorder writes n checks as fast as the pipeline takes them, in
// batches of batch, as the controller would from a busy kernel.
type floodRecorder struct {
	n, batch int
	checks   []check.Check
}

func (f *floodRecorder) Run(ctx context.Context, sink controller.Sink) error {
	for sent := 0; sent < f.n; sent += f.batch {
		if err := sink.Write(f.checks[:min(f.batch, f.n-sent)]); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}
func (f *floodRecorder) Stats() controller.Stats { return controller.Stats{} }
func (f *floodRecorder) Method() tracer.Method   { return tracer.TPBTF }
func (f *floodRecorder) Close() error            { return nil }

// BenchmarkPipeline sends b.N records through the receiver, the batch
// processor and the otlp exporter (no sending queue, so backpressure
// reaches the receiver instead of dropping) to a local OTLP sink, and fails
// unless every record arrives. The sink runs in the same process, so its
// decoding shares the machine's CPUs.
func BenchmarkPipeline(b *testing.B) {
	for _, compression := range []string{"gzip", "none"} {
		b.Run("compression="+compression, func(b *testing.B) { benchmarkPipeline(b, compression) })
	}
}

func benchmarkPipeline(b *testing.B, compression string) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	// The batch processor's default batches (8192 records, ~8 MB) exceed
	// gRPC's default 4 MiB limit: size the sink like a collector's
	// otlp receiver with max_recv_msg_size_mib raised.
	server := grpc.NewServer(grpc.MaxRecvMsgSize(64 << 20))
	sink := &logsSink{}
	plogotlp.RegisterGRPCServer(server, sink)
	go func() { _ = server.Serve(lis) }()
	defer server.Stop()

	ctx := context.Background()
	host := componenttest.NewNopHost()
	expFactory := otlpexporter.NewFactory()
	expCfg := expFactory.CreateDefaultConfig()
	if err := confmap.NewFromStringMap(map[string]any{
		"endpoint":      lis.Addr().String(),
		"tls":           map[string]any{"insecure": true},
		"sending_queue": map[string]any{"enabled": false},
		"compression":   compression,
	}).Unmarshal(expCfg); err != nil {
		b.Fatal(err)
	}
	exp, err := expFactory.CreateLogs(ctx, exportertest.NewNopSettings(expFactory.Type()), expCfg)
	if err != nil {
		b.Fatal(err)
	}
	batchFactory := batchprocessor.NewFactory()
	proc, err := batchFactory.CreateLogs(ctx, processortest.NewNopSettings(batchFactory.Type()), batchFactory.CreateDefaultConfig(), exp)
	if err != nil {
		b.Fatal(err)
	}
	cfg := createDefaultConfig()
	flood := &floodRecorder{n: b.N, batch: cfg.MaxBatchSize, checks: checktest.Batch(cfg.MaxBatchSize)}
	recv, err := newReceiver(metadatatest.NewSettings(componenttest.NewTelemetry()), cfg, proc,
		func(controller.Config) (recorder, error) { return flood, nil })
	if err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	for _, c := range []component.Component{exp, proc, recv} {
		if err := c.Start(ctx, host); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for sink.records.Load() < int64(b.N) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	for _, c := range []component.Component{recv, proc, exp} {
		if err := c.Shutdown(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if got := sink.records.Load(); got != int64(b.N) {
		b.Fatalf("the sink got %d records of %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
