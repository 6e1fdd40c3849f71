//go:build e2e

package k8se2e

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // the otlp_grpc exporter compresses by default
)

// record is one exported log record with its resource's attributes.
type record struct {
	resource map[string]any
	attrs    map[string]any
	event    string
}

// sink is the backend the gateway forwards the raw checks to (its
// otlp_grpc/checks exporter): an OTLP/gRPC logs endpoint that keeps every
// record it receives, so that the test can wait for a record as it arrives.
// The agents send to the real gateway, whose OTLP receiver refuses messages
// over 4 MiB as in the cluster.
type sink struct {
	plogotlp.UnimplementedGRPCServer
	addr string

	mu      sync.Mutex
	records []record
	changed chan struct{} // closed and replaced on every export
}

func startSink(t *testing.T) *sink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{addr: l.Addr().String(), changed: make(chan struct{})}
	srv := grpc.NewServer()
	plogotlp.RegisterGRPCServer(srv, s)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return s
}

func (s *sink) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	var got []record
	rls := req.Logs().ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		res := rls.At(i).Resource().Attributes().AsRaw()
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				got = append(got, record{resource: res, attrs: lr.Attributes().AsRaw(), event: lr.EventName()})
			}
		}
	}
	s.mu.Lock()
	s.records = append(s.records, got...)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	return plogotlp.NewExportResponse(), nil
}

// waitFor returns the first record from the from'th on that match
// accepts, waiting up to timeout; nil if none came.
func (s *sink) waitFor(from int, timeout time.Duration, match func(record) bool) *record {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		for i := from; i < len(s.records); i++ {
			if match(s.records[i]) {
				r := s.records[i]
				s.mu.Unlock()
				return &r
			}
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			return nil
		}
	}
}

// count returns how many records there are.
func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}

var _ plogotlp.GRPCServer = (*sink)(nil)
