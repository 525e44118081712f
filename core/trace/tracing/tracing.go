package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/agentgate/agentgate/core/trace"
)

// Config configures Tracing.
type Config struct {
	// Writer stores spans (the state database's trace store); nil: spans
	// only go to OTLP.
	Writer trace.SpanWriter
	// SamplingRatio is the share of new traces recorded (0 or 1: all). A
	// caller's sampling decision (its traceparent) is honoured.
	SamplingRatio float64
	// OTLPEndpoint, when set, exports spans over OTLP too: a URL
	// (http://host:4318, https://...; the path defaults to /v1/traces for
	// http) or host:port.
	OTLPEndpoint string
	// OTLPProtocol is "http" (default) or "grpc".
	OTLPProtocol string
	OTLPHeaders  map[string]string
	// OTLPInsecure: grpc without TLS (and http for a host:port endpoint).
	OTLPInsecure bool
	// OTLPTimeout bounds one export (default 5s).
	OTLPTimeout time.Duration
	// ServiceVersion is the resource's service.version.
	ServiceVersion string
	// Store sizes the store processor.
	Store  StoreOptions
	Logger *slog.Logger
}

// Tracing is the tracer provider with its processors and the run observer.
type Tracing struct {
	Provider *sdktrace.TracerProvider
	// Observer is the core.RunObserver to register on the engine.
	Observer *Observer
	store    *StoreProcessor
	otlp     *countingExporter
}

// New builds the tracer provider: spans go to cfg.Writer (batched, off the
// run's path) and, with an endpoint, to an OTLP collector (the SDK's batch
// processor; a failing collector is counted and logged at a bounded rate).
func New(cfg Config) (*Tracing, error) {
	if cfg.SamplingRatio < 0 || cfg.SamplingRatio > 1 {
		return nil, fmt.Errorf("sampling ratio %v: want 0 < r ≤ 1", cfg.SamplingRatio)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	ratio := cfg.SamplingRatio
	if ratio == 0 {
		ratio = 1
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", "agentgate")}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.ServiceVersion))
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithIDGenerator(IDGenerator{}),
	}
	t := &Tracing{}
	if cfg.Writer != nil {
		so := cfg.Store
		if so.Logger == nil {
			so.Logger = logger
		}
		t.store = NewStoreProcessor(cfg.Writer, so)
		opts = append(opts, sdktrace.WithSpanProcessor(t.store))
	}
	if cfg.OTLPEndpoint != "" {
		exp, err := otlpExporter(cfg)
		if err != nil {
			if t.store != nil {
				_ = t.store.Shutdown(context.Background())
			}
			return nil, err
		}
		t.otlp = &countingExporter{SpanExporter: exp, log: newRateLog(logger, logEvery), endpoint: cfg.OTLPEndpoint}
		opts = append(opts, sdktrace.WithSpanProcessor(sdktrace.NewBatchSpanProcessor(t.otlp,
			sdktrace.WithMaxQueueSize(DefaultQueueSize), sdktrace.WithExportTimeout(exportTimeout(cfg)))))
	}
	t.Provider = sdktrace.NewTracerProvider(opts...)
	t.Observer = NewObserver(t.Provider.Tracer("github.com/agentgate/agentgate"))
	return t, nil
}

func exportTimeout(cfg Config) time.Duration {
	if cfg.OTLPTimeout > 0 {
		return cfg.OTLPTimeout
	}
	return 5 * time.Second
}

func otlpExporter(cfg Config) (sdktrace.SpanExporter, error) {
	ep := strings.TrimSpace(cfg.OTLPEndpoint)
	var u *url.URL
	if strings.Contains(ep, "://") {
		var err error
		if u, err = url.Parse(ep); err != nil || u.Host == "" {
			return nil, fmt.Errorf("otlp endpoint %q: not a URL", ep)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("otlp endpoint %q: want an http or https URL", ep)
		}
	}
	ctx := context.Background()
	switch cfg.OTLPProtocol {
	case "", "http":
		opts := []otlptracehttp.Option{otlptracehttp.WithTimeout(exportTimeout(cfg)),
			// Retries stay within one export's timeout.
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false})}
		if u != nil {
			if u.Path == "" || u.Path == "/" {
				u.Path = "/v1/traces"
			}
			opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
		} else {
			opts = append(opts, otlptracehttp.WithEndpoint(ep))
			if cfg.OTLPInsecure {
				opts = append(opts, otlptracehttp.WithInsecure())
			}
		}
		if len(cfg.OTLPHeaders) > 0 {
			opts = append(opts, otlptracehttp.WithHeaders(cfg.OTLPHeaders))
		}
		return otlptracehttp.New(ctx, opts...)
	case "grpc":
		opts := []otlptracegrpc.Option{otlptracegrpc.WithTimeout(exportTimeout(cfg)),
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false})}
		if u != nil {
			opts = append(opts, otlptracegrpc.WithEndpointURL(u.String()))
		} else {
			opts = append(opts, otlptracegrpc.WithEndpoint(ep))
		}
		if cfg.OTLPInsecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		if len(cfg.OTLPHeaders) > 0 {
			opts = append(opts, otlptracegrpc.WithHeaders(cfg.OTLPHeaders))
		}
		return otlptracegrpc.New(ctx, opts...)
	default:
		return nil, fmt.Errorf("otlp protocol %q: want http or grpc", cfg.OTLPProtocol)
	}
}

// Dropped counts the spans the store processor dropped (queue full).
func (t *Tracing) Dropped() int64 {
	if t.store == nil {
		return 0
	}
	return t.store.Dropped()
}

// StoreFailed counts the spans whose write to the store failed.
func (t *Tracing) StoreFailed() int64 {
	if t.store == nil {
		return 0
	}
	return t.store.Failed()
}

// OTLPFailed counts the spans whose OTLP export failed.
func (t *Tracing) OTLPFailed() int64 {
	if t.otlp == nil {
		return 0
	}
	return t.otlp.failed.Load()
}

// ForceFlush exports what every processor holds.
func (t *Tracing) ForceFlush(ctx context.Context) error { return t.Provider.ForceFlush(ctx) }

// Shutdown flushes and stops the processors.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.Provider.Shutdown(ctx) }

// countingExporter counts and logs (at a bounded rate) the OTLP exports
// that failed, and reports success to the batch processor so the SDK's
// own error handler does not log every one.
type countingExporter struct {
	sdktrace.SpanExporter
	failed   atomic.Int64
	log      *rateLog
	endpoint string
}

func (c *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := c.SpanExporter.ExportSpans(ctx, spans); err != nil {
		n := c.failed.Add(int64(len(spans)))
		c.log.warn("OTLP export failed", "endpoint", c.endpoint, "spans", len(spans), "failed_total", n, "err", err)
	}
	return nil
}

func (c *countingExporter) Shutdown(ctx context.Context) error {
	err := c.SpanExporter.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return nil // an unreachable collector never holds up shutdown's report
	}
	return err
}
