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
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/check/checktest"
	"github.com/capprof/capprof/internal/controller"
	"github.com/capprof/capprof/internal/tracer"
	"github.com/capprof/capprof/receiver/capabilitiesreceiver/internal/metadatatest"
)

// logsSink is an OTLP/gRPC logs endpoint that decodes what it gets into
// pdata, as a collector's otlp receiver does, and counts the records.
type logsSink struct {
	plogotlp.UnimplementedGRPCServer
	records *atomic.Int64
}

func (s *logsSink) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	s.records.Add(int64(req.Logs().LogRecordCount()))
	return plogotlp.NewExportResponse(), nil
}

func decodingSink(server *grpc.Server, records *atomic.Int64) {
	plogotlp.RegisterGRPCServer(server, &logsSink{records: records})
}

// countingSink is an OTLP/gRPC logs endpoint that counts the records in
// the request's wire format without decoding them, so that what the
// benchmark's process spends is the agent's path alone (a gateway's
// decoding is the gateway's cost). Its request and response types are
// decoded by pdata's gRPC codec, which the otlp exporter's import
// registers, through the methods it looks for.
func countingSink(server *grpc.Server, records *atomic.Int64) {
	server.RegisterService(&grpc.ServiceDesc{
		ServiceName: "opentelemetry.proto.collector.logs.v1.LogsService",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "Export",
			Handler: func(_ any, _ context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				var req countedRequest
				if err := dec(&req); err != nil {
					return nil, err
				}
				records.Add(int64(req))
				return new(countedRequest), nil // an empty ExportLogsServiceResponse
			}}},
	}, nil)
}

// countedRequest is the number of log records of an ExportLogsServiceRequest.
type countedRequest int

func (*countedRequest) SizeProto() int          { return 0 }
func (*countedRequest) MarshalProto([]byte) int { return 0 }
func (n *countedRequest) UnmarshalProto(b []byte) error {
	// ExportLogsServiceRequest.resource_logs (1) → ResourceLogs.scope_logs
	// (2) → ScopeLogs.log_records (2): count the last.
	return eachField(b, 1, func(resource []byte) error {
		return eachField(resource, 2, func(scope []byte) error {
			return eachField(scope, 2, func([]byte) error { *n++; return nil })
		})
	})
}

// eachField calls f with the bytes of every length-delimited field number
// num of the message b, and skips the other fields.
func eachField(b []byte, num protowire.Number, f func([]byte) error) error {
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return protowire.ParseError(l)
			}
			if err := f(v); err != nil {
				return err
			}
			b = b[l:]
			continue
		}
		l = protowire.ConsumeFieldValue(n, typ, b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
	}
	return nil
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
// unless every record arrives. The sink runs in the same process and
// decodes the records into pdata, so its decoding shares the machine's
// CPUs and the benchmark process's CPU time.
func BenchmarkPipeline(b *testing.B) {
	for _, compression := range []string{"gzip", "none"} {
		b.Run("compression="+compression, func(b *testing.B) { benchmarkPipeline(b, compression, decodingSink) })
	}
}

// BenchmarkPipelineAgent is BenchmarkPipeline with a sink that counts the
// records on the wire without decoding them: the agent's path alone
// (receiver, batch, otlp exporter, gRPC and compression), and the sink's
// gRPC server and decompression.
func BenchmarkPipelineAgent(b *testing.B) {
	for _, compression := range []string{"gzip", "none"} {
		b.Run("compression="+compression, func(b *testing.B) { benchmarkPipeline(b, compression, countingSink) })
	}
}

func benchmarkPipeline(b *testing.B, compression string, register func(*grpc.Server, *atomic.Int64)) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	// The batch processor's default batches (8192 records, ~8 MB) exceed
	// gRPC's default 4 MiB limit: size the sink like a collector's
	// otlp receiver with max_recv_msg_size_mib raised.
	server := grpc.NewServer(grpc.MaxRecvMsgSize(64 << 20))
	var records atomic.Int64
	register(server, &records)
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
	for records.Load() < int64(b.N) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	for _, c := range []component.Component{recv, proc, exp} {
		if err := c.Shutdown(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if got := records.Load(); got != int64(b.N) {
		b.Fatalf("the sink got %d records of %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
