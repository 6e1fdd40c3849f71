package output

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/capprof/capprof/internal/check"
	"github.com/capprof/capprof/internal/profile"
)

const (
	// maxProviders bounds the LoggerProviders kept, one per resource (a
	// process of a container or of the host). Processes that check
	// capabilities at once are rarely more than this; beyond it the least
	// recently used provider goes, and a later check from that process
	// simply creates a new one.
	maxProviders = 4096

	// flushTimeout bounds Close's final export. It is longer than the
	// exporter's own per-export default (10s, OTEL_EXPORTER_OTLP_TIMEOUT) so
	// that one slow attempt can finish, yet a dead collector cannot keep
	// capprof from exiting.
	flushTimeout = 30 * time.Second
	// shutdownTimeout bounds closing the gRPC connection after the flush.
	shutdownTimeout = 5 * time.Second
)

// tlsEnv are the variables with which a user states how to secure the
// connection. When any is set, an explicit endpoint does not imply plaintext.
var tlsEnv = [...]string{
	"OTEL_EXPORTER_OTLP_INSECURE",
	"OTEL_EXPORTER_OTLP_LOGS_INSECURE",
	"OTEL_EXPORTER_OTLP_CERTIFICATE",
	"OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
	"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
	"OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
	"OTEL_EXPORTER_OTLP_CLIENT_KEY",
	"OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY",
}

// otlpWriter exports checks through the OpenTelemetry Go log SDK.
//
// The SDK ties one Resource to a LoggerProvider, but resource attributes
// differ per process, so there is one provider per ResourceKey. All of
// them feed ONE batch processor in front of ONE exporter: records of every
// process are batched together (the exporter groups a batch by resource
// into ResourceLogs itself), memory is one queue rather than one per
// process, and evicting a provider never has to export synchronously.
// The providers see the processor through sharedProcessor, whose Shutdown
// does nothing, so that shutting a provider down does not shut down the
// processor and with it the exporter; Close shuts those down last.
//
// Export errors during Write are asynchronous: the SDK hands them to the
// OpenTelemetry error handler (otel.SetErrorHandler). Close returns the
// errors of the final flush.
type otlpWriter struct {
	mu        sync.Mutex // Write and Close may come from different goroutines
	processor *sdklog.BatchProcessor
	shared    sdklog.Processor
	version   string                              // the records' scope version
	limit     int                                 // most providers kept; maxProviders outside tests
	providers map[check.ResourceKey]*list.Element // of *providerEntry
	lru       list.List                           // front is the most recently used
	closed    bool
}

type providerEntry struct {
	key      check.ResourceKey
	provider *sdklog.LoggerProvider
	logger   log.Logger
}

// NewOTLP exports checks through OTLP gRPC to endpoint ("host:port"), in
// the scope check.ScopeName at version.
//
// An empty endpoint leaves it to the standard OTEL_EXPORTER_OTLP_ENDPOINT /
// OTEL_EXPORTER_OTLP_LOGS_ENDPOINT variables (default https://localhost:4317).
// The exporter honours every OTEL_EXPORTER_OTLP_* variable itself, so
// options are only passed for what the caller said explicitly.
//
// A "host:port" endpoint is dialled in plaintext: that is what an operator
// pointing capprof at a node-local or sidecar collector means, and the
// Collector's OTLP receiver listens without TLS by default. If any
// OTEL_EXPORTER_OTLP_[LOGS_]INSECURE or certificate variable is set, the user
// has stated the security explicitly and the exporter's own handling
// applies. An endpoint with a scheme ("https://collector:4317") is passed as
// a URL and its scheme decides: https means TLS, http means plaintext.
//
// The SDK merges OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME into each
// container's resource, so operators can tag a node's records (the file
// formats carry only the check's own resource attributes).
func NewOTLP(ctx context.Context, endpoint, version string) (Writer, error) {
	return newOTLP(ctx, maxProviders, version, exporterOptions(endpoint, os.Getenv)...)
}

// exporterOptions returns the otlploggrpc options for endpoint; getenv is
// os.Getenv outside tests.
func exporterOptions(endpoint string, getenv func(string) string) []otlploggrpc.Option {
	if endpoint == "" {
		return nil
	}
	if strings.Contains(endpoint, "://") {
		return []otlploggrpc.Option{otlploggrpc.WithEndpointURL(endpoint)}
	}
	opts := []otlploggrpc.Option{otlploggrpc.WithEndpoint(endpoint)}
	if securityFromEnv(getenv) {
		return opts
	}
	return append(opts, otlploggrpc.WithInsecure())
}

// securityFromEnv reports whether a variable states how to secure the
// connection. The exporter treats an empty variable as unset, and so does
// this.
func securityFromEnv(getenv func(string) string) bool {
	for _, name := range tlsEnv {
		if getenv(name) != "" {
			return true
		}
	}
	return false
}

func newOTLP(ctx context.Context, limit int, version string, opts ...otlploggrpc.Option) (*otlpWriter, error) {
	exp, err := otlploggrpc.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("create otlp grpc log exporter: %w", err)
	}
	bp := sdklog.NewBatchProcessor(exp)
	return &otlpWriter{
		processor: bp,
		shared:    sharedProcessor{bp},
		version:   version,
		limit:     limit,
		providers: make(map[check.ResourceKey]*list.Element),
	}, nil
}

func (o *otlpWriter) Write(checks []check.Check) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return errClosed
	}
	var evictErr error
	for i := range checks {
		c := &checks[i]
		logger, err := o.logger(c)
		evictErr = errors.Join(evictErr, err)
		var r log.Record
		r.SetEventName(check.EventName)
		r.SetTimestamp(c.Time)
		r.SetObservedTimestamp(c.Time)
		sev := c.Severity()
		r.SetSeverity(log.Severity(sev))
		r.SetSeverityText(sev.String())
		r.SetBody(attribute.StringValue(c.Body()))
		r.AddAttributes(otelKeyValues(c.Attributes())...)
		// No span is active: the context would only carry trace ids.
		logger.Emit(context.Background(), r)
	}
	if evictErr != nil {
		return fmt.Errorf("write otlp: %w", evictErr)
	}
	return nil
}

// logger returns the logger of c's resource, creating its provider on first
// use and evicting the least recently used one when there are too many.
// The error is that of shutting an evicted provider down.
func (o *otlpWriter) logger(c *check.Check) (log.Logger, error) {
	key := c.ResourceKey()
	if el, ok := o.providers[key]; ok {
		o.lru.MoveToFront(el)
		return el.Value.(*providerEntry).logger, nil
	}
	var err error
	if len(o.providers) >= o.limit {
		if el := o.lru.Back(); el != nil {
			old := o.lru.Remove(el).(*providerEntry)
			delete(o.providers, old.key)
			// Its records are already in the shared processor's queue;
			// this only stops the provider.
			if e := old.provider.Shutdown(context.Background()); e != nil {
				err = fmt.Errorf("shut down evicted logger provider: %w", e)
			}
		}
	}
	res := resource.NewSchemaless(otelKeyValues(profile.AppendKey(c.Resource(), c))...)
	p := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(o.shared))
	e := &providerEntry{key: key, provider: p, logger: p.Logger(check.ScopeName, log.WithInstrumentationVersion(o.version))}
	o.providers[key] = o.lru.PushFront(e)
	return e.logger, err
}

// Close flushes the queued records, then shuts down every provider and the
// exporter, and returns every error on the way.
func (o *otlpWriter) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true

	var errs []error
	flushCtx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	if err := o.processor.ForceFlush(flushCtx); err != nil {
		errs = append(errs, fmt.Errorf("flush otlp logs: %w", err))
	}
	// A separate deadline: a flush that ran out of time must not leave the
	// gRPC connection open.
	shutCtx, cancelShut := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancelShut()
	for el := o.lru.Front(); el != nil; el = el.Next() {
		if err := el.Value.(*providerEntry).provider.Shutdown(shutCtx); err != nil {
			errs = append(errs, fmt.Errorf("shut down logger provider: %w", err))
		}
	}
	clear(o.providers)
	o.lru.Init()
	if err := o.processor.Shutdown(shutCtx); err != nil {
		errs = append(errs, fmt.Errorf("shut down otlp exporter: %w", err))
	}
	return errors.Join(errs...)
}

func otelKeyValues(attrs []check.Attr) []attribute.KeyValue {
	kvs := make([]attribute.KeyValue, len(attrs))
	for i, a := range attrs {
		kvs[i] = otelKeyValue(a)
	}
	return kvs
}

// sharedProcessor lends the one batch processor to many providers. Its
// Shutdown is a no-op because a provider's Shutdown (on eviction, say) must
// not stop the processor, and the exporter behind it, that the others still
// use; otlpWriter.Close shuts the real processor down.
type sharedProcessor struct {
	sdklog.Processor
}

func (sharedProcessor) Shutdown(context.Context) error { return nil }
