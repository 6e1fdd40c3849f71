package main

import (
	"context"
	"fmt"
	"sync"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// exportMethod is OTLP/gRPC's logs export.
const exportMethod = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"

// rawCodec sends a request's bytes as they are (marshalled before the
// clock starts) and reads the response as OTLP.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("raw codec: cannot send %T", v)
	}
	return b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	resp, ok := v.(*plogotlp.ExportResponse)
	if !ok {
		return fmt.Errorf("raw codec: cannot read into %T", v)
	}
	return resp.UnmarshalProto(data)
}

// send exports every request rounds times to its agent, from senders
// goroutines, and fails on the first refused or partly rejected one: the
// agents' queues block rather than drop, so nothing may be refused.
func send(ctx context.Context, agents []string, reqs []request, rounds, senders int) error {
	conns := make([]*grpc.ClientConn, len(agents))
	for i, a := range agents {
		c, err := grpc.NewClient(a, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
		if err != nil {
			return fmt.Errorf("connect to agent %s: %w", a, err)
		}
		defer c.Close()
		conns[i] = c
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan *request)
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for r := range work {
				resp := plogotlp.NewExportResponse()
				if err := conns[r.agent].Invoke(ctx, exportMethod, r.body, &resp); err != nil {
					cancel(fmt.Errorf("export to agent %s: %w", agents[r.agent], err))
					return
				}
				if n := resp.PartialSuccess().RejectedLogRecords(); n > 0 {
					cancel(fmt.Errorf("agent %s rejected %d records: %s", agents[r.agent], n, resp.PartialSuccess().ErrorMessage()))
					return
				}
			}
		})
	}
feed:
	for range rounds {
		for i := range reqs {
			select {
			case work <- &reqs[i]:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(work)
	wg.Wait()
	return context.Cause(ctx)
}
