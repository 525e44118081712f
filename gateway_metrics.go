package agentgate

// The metrics' wiring: the core/metric service on the state database, its
// refresh registered as a periodic job of the durable queue (once across
// replicas; the refresh is also claimed in the database, so a manual one
// and the job never run together).

import (
	"time"

	"github.com/agentgate/agentgate/core/metric"
)

// DefaultMetricsRefreshInterval is how often the daily metrics are
// refreshed when observability.metrics_refresh_interval is not set.
const DefaultMetricsRefreshInterval = 15 * time.Minute

// metricsRefreshJob is the periodic job's name.
const metricsRefreshJob = "metrics_refresh"

// MetricsRefresh is the periodic refresh's interval with its default.
func (c ObservabilityConfig) MetricsRefresh() time.Duration {
	if c.MetricsRefreshInterval == 0 {
		return DefaultMetricsRefreshInterval
	}
	return c.MetricsRefreshInterval
}

// buildMetrics builds the metrics' service and registers its periodic
// refresh. Call it before the queue starts.
func (g *Gateway) buildMetrics() error {
	g.metrics = metric.New(metric.Config{Store: g.store, Logger: g.logger})
	if g.queue == nil {
		return nil
	}
	return g.queue.AddPeriodic(metricsRefreshJob, g.cfg.Observability.MetricsRefresh(), g.metrics.Tick)
}
