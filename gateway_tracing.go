package agentgate

// The tracing's wiring: the OpenTelemetry tracer provider whose spans go to
// the state database's trace store (g.spanWriter, off the run's path) and,
// with observability.otlp_endpoint, to an OTLP collector; its run observer
// is registered on the engine.

import (
	"context"
	"time"

	"github.com/agentgate/agentgate/core/trace"
	"github.com/agentgate/agentgate/core/trace/tracing"
)

// buildTracing sets up tracing when observability.tracing is on. Call it
// after the engine is built, before serving.
func (g *Gateway) buildTracing() error {
	c := g.cfg.Observability
	if !c.TracingOn() {
		return nil
	}
	tr, err := newTracing(c, g.spanWriter(), g)
	if err != nil {
		return err
	}
	g.tracing = tr
	g.eng.AddRunObserver(tr.Observer)
	return g.observeTracing()
}

func newTracing(c ObservabilityConfig, w trace.SpanWriter, g *Gateway) (*tracing.Tracing, error) {
	return tracing.New(tracing.Config{
		Writer: w, SamplingRatio: c.Sampling(),
		OTLPEndpoint: c.OTLPEndpoint, OTLPProtocol: c.OTLPProtocol, OTLPHeaders: c.OTLPHeaders, OTLPInsecure: c.OTLPInsecure,
		ServiceVersion: Version, Logger: g.logger,
	})
}

// TracingDropped counts the spans dropped because the trace store's queue
// was full (0 with tracing off): for the Prometheus metrics.
func (g *Gateway) TracingDropped() int64 {
	if g.tracing == nil {
		return 0
	}
	return g.tracing.Dropped()
}

// stopTracing writes the spans still queued (within a few seconds) and
// stops the exporters; call it before the store closes.
func (g *Gateway) stopTracing() {
	if g.tracing == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.tracing.Shutdown(ctx); err != nil {
		g.logger.Warn("stop tracing", "err", err)
	}
	g.tracing = nil
}
