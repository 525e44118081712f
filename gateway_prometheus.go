package agentgate

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/agentgate/agentgate/adapters/ws"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/metric/prom"
	"github.com/agentgate/agentgate/storage"
	"github.com/agentgate/agentgate/transport/admin"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// newMetrics returns the Prometheus metrics, or nil when the admin
// listener is off (observability.prometheus_addr: off): nothing is then
// recorded.
func newMetrics(cfg *Config) *prom.Metrics {
	if cfg.Observability.AdminAddr() == "" {
		return nil
	}
	return prom.New()
}

// instrumentLog times the event log into m (nil m: log as is).
func instrumentLog(log core.EventLog, m *prom.Metrics) core.EventLog {
	if m == nil {
		return log
	}
	return prom.WrapEventLog(log, m)
}

// observeStoreWrites times the state store's write transactions into m
// (nil m: nothing), for a backend that reports them.
func observeStoreWrites(b *storage.Backend, m *prom.Metrics) {
	if m == nil || b == nil {
		return
	}
	if w, ok := b.Store.(interface {
		ObserveWrites(func(d time.Duration, group int, err error))
	}); ok {
		kind := strings.ToLower(b.Kind)
		w.ObserveWrites(func(d time.Duration, group int, err error) { m.StoreWrite(kind, d, group, err) })
	}
}

// observeQueue records the queue's job attempts and depth.
func (g *Gateway) observeQueue() error {
	if g.prom == nil || g.queue == nil {
		return nil
	}
	g.queue.ObserveJobs(g.prom.QueueJob)
	return g.prom.QueueDepth(g.queue.Depth)
}

// observeTracing exports the span exporter's counts (dropped, failed).
func (g *Gateway) observeTracing() error {
	if g.prom == nil || g.tracing == nil {
		return nil
	}
	t := g.tracing
	return g.prom.TraceSpans(t.Dropped, t.StoreFailed, t.OTLPFailed)
}

// observeRuns records runs, model requests and tool calls.
func (g *Gateway) observeRuns() {
	if g.prom != nil {
		g.eng.AddRunObserver(g.prom.Observer())
	}
}

// transportHooks are the HTTP transport's metric hooks (nil: none).
func (g *Gateway) transportHooks() httptransport.Hooks {
	if g.prom == nil {
		return nil
	}
	return g.prom
}

// registerInterfaceGauges adds gauges read from the mounted interfaces
// (open WebSocket sockets).
func (g *Gateway) registerInterfaceGauges() {
	if g.prom == nil {
		return
	}
	for _, i := range g.mounted {
		if w, ok := i.(*ws.Interface); ok {
			_ = g.prom.GaugeFunc("active_sockets", "WebSocket connections open now, by interface.",
				map[string]string{"interface": "ws"}, func() float64 { return float64(w.Connections()) })
		}
	}
}

// startAdmin starts the admin listener (Prometheus /metrics, pprof when
// observability.pprof is set) unless observability.prometheus_addr is off.
// A taken default address is logged, not fatal (replicas on one machine);
// an address set explicitly must be free. The config refuses a non-loopback address without prometheus_public.
func (g *Gateway) startAdmin() error {
	addr := g.cfg.Observability.AdminAddr()
	if addr == "" || g.prom == nil {
		return nil
	}
	s, err := admin.Listen(addr, admin.Config{Metrics: g.prom.Handler(), Pprof: g.cfg.Observability.Pprof})
	if err != nil && strings.TrimSpace(g.cfg.Observability.PrometheusAddr) == "" {
		// The default address is taken (a second replica on this
		// machine): serve without metrics rather than not at all.
		g.logger.Warn("admin listener not started: its default address is taken; set observability.prometheus_addr", "addr", addr, "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("admin listener (observability.prometheus_addr) on %s: %w", addr, err)
	}
	g.admin = s
	g.logger.Info("admin listener", "addr", s.Addr(), "metrics", "/metrics", "pprof", g.cfg.Observability.Pprof)
	return nil
}

// stopAdmin shuts the admin listener down.
func (g *Gateway) stopAdmin(ctx context.Context) error {
	if g.admin == nil {
		return nil
	}
	s := g.admin
	g.admin = nil
	return s.Shutdown(ctx)
}
