package agentgate

import (
	"context"
	"fmt"

	"github.com/agentgate/agentgate/adapters/ws"
	"github.com/agentgate/agentgate/auth"
)

// WSConfig configures the WebSocket interface at /ws (see adapters/ws for
// the protocol); the ws package owns it.
type WSConfig = ws.Settings

// wsAdapter mounts the WebSocket adapter at /ws. On shutdown (after the
// HTTP server stopped accepting) every socket gets the last frames of its
// runs, for up to http.shutdown_timeout, then a 1001 close.
type wsAdapter struct{ h *ws.Handler }

func (*wsAdapter) name() string { return "ws" }

func (a *wsAdapter) mount(g *Gateway, policy *auth.Policy) (string, bool, error) {
	c := g.cfg.WS
	if c.Disabled {
		return "", false, nil
	}
	origins := append(append([]string(nil), c.AllowedOrigins...), g.cfg.Auth.CORSOrigins...)
	a.h = ws.Register(g.srv.App, g.eng, ws.Config{
		Policy: policy, Auth: g.srv.Config().Auth, AllowedOrigins: origins,
		MaxFrameBytes: c.MaxFrameBytes, QueueSize: c.QueueSize, MaxRuns: c.MaxRuns,
		PingInterval: c.PingInterval, PongTimeout: c.PongTimeout, WriteTimeout: c.WriteTimeout,
		SlowConsumerTimeout: c.SlowConsumerTimeout, Logger: g.logger,
	})
	return "/ws", true, nil
}

func (a *wsAdapter) shutdown(ctx context.Context) error {
	if err := a.h.Shutdown(ctx); err != nil {
		return fmt.Errorf("%d sockets still open at the end of the shutdown grace", a.h.Connections())
	}
	return nil
}
