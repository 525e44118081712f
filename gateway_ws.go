package agentgate

import (
	"context"
	"time"

	"github.com/agentgate/agentgate/adapters/ws"
	"github.com/agentgate/agentgate/auth"
)

// WSConfig configures the WebSocket interface at /ws (see adapters/ws for
// the protocol); the ws package owns it.
type WSConfig = ws.Settings

// mountWS mounts the WebSocket adapter at /ws. On shutdown (after the HTTP
// server stopped accepting) every socket gets the last frames of its runs,
// for up to http.shutdown_timeout, then a 1001 close.
func (g *Gateway) mountWS(policy *auth.Policy) error {
	c := g.cfg.WS
	if c.Disabled {
		return nil
	}
	origins := append(append([]string(nil), c.AllowedOrigins...), g.cfg.Auth.CORSOrigins...)
	h := ws.Register(g.srv.App, g.eng, ws.Config{
		Policy: policy, Auth: g.srv.Config().Auth, AllowedOrigins: origins,
		MaxFrameBytes: c.MaxFrameBytes, QueueSize: c.QueueSize, MaxRuns: c.MaxRuns,
		PingInterval: c.PingInterval, PongTimeout: c.PongTimeout, WriteTimeout: c.WriteTimeout,
		SlowConsumerTimeout: c.SlowConsumerTimeout, Logger: g.logger,
	})
	grace := g.cfg.HTTP.ShutdownTimeout
	if grace <= 0 {
		grace = 15 * time.Second
	}
	g.srv.App.Hooks().OnShutdown(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			g.logger.Warn("ws: sockets still open at the end of the shutdown grace", "open", h.Connections())
		}
		return nil
	})
	return nil
}
