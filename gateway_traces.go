package agentgate

// The traces' wiring: the core/trace service on the state database (whose
// store is also the SpanWriter the tracing exporter writes to), and its
// retention job registered as a periodic job of the durable queue (once
// across replicas).

import (
	"time"

	"github.com/agentgate/agentgate/core/trace"
)

// tracesRetention is the retention job's name.
const tracesRetention = "traces-retention"

// retentionEvery is how often the retention job runs: a quarter of the
// retention, between 1s and 1h.
func retentionEvery(retention time.Duration) time.Duration {
	return min(max(retention/4, time.Second), time.Hour)
}

// spanWriter is where spans are stored: the state database's trace store.
func (g *Gateway) spanWriter() trace.SpanWriter { return g.store }

// buildTraces builds the traces' service on the state store and registers
// its retention job on the queue. Call it before the queue starts.
func (g *Gateway) buildTraces() error {
	c := g.cfg.Observability
	if !c.TracingOn() {
		return nil
	}
	g.traces = trace.New(trace.Config{Store: g.store, Retention: c.Retention(), Logger: g.logger})
	if g.queue == nil {
		return nil
	}
	return g.queue.AddPeriodic(tracesRetention, retentionEvery(g.traces.Retention()), g.traces.Retain)
}
