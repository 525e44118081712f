package agentgate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentgate/agentgate/adapters/ws"
	"github.com/agentgate/agentgate/auth"
)

// WSConfig configures the WebSocket interface at /ws (see adapters/ws for
// the protocol). Zero values take the defaults.
type WSConfig struct {
	// Disabled turns the interface off.
	Disabled bool `yaml:"disabled"`
	// AllowedOrigins are the browser origins allowed to open a socket
	// ("*": any), in addition to auth.cors_origins. Clients that send no
	// Origin (not browsers) and same-origin pages are always allowed.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// MaxFrameBytes bounds one client frame (default 1 MiB).
	MaxFrameBytes int `yaml:"max_frame_bytes"`
	// QueueSize bounds the frames waiting to be written to one socket
	// (default 256).
	QueueSize int `yaml:"queue_size"`
	// MaxRuns bounds the runs one socket follows at once (default 64).
	MaxRuns int `yaml:"max_runs"`
	// PingInterval is how often the server pings (default 30s); a client
	// silent for PingInterval+PongTimeout (default 15s) is disconnected.
	PingInterval time.Duration `yaml:"ping_interval"`
	PongTimeout  time.Duration `yaml:"pong_timeout"`
	// WriteTimeout bounds writing one batch of queued frames to a socket
	// (default 10s); a client that takes longer is dropped.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// SlowConsumerTimeout is how long a full queue may stay full before
	// the socket is closed with 1013 (default 5s).
	SlowConsumerTimeout time.Duration `yaml:"slow_consumer_timeout"`
}

func (c WSConfig) validate() error {
	var errs []error
	for name, v := range map[string]int{"max_frame_bytes": c.MaxFrameBytes, "queue_size": c.QueueSize, "max_runs": c.MaxRuns} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("ws.%s must not be negative", name))
		}
	}
	for name, v := range map[string]time.Duration{"ping_interval": c.PingInterval, "pong_timeout": c.PongTimeout,
		"write_timeout": c.WriteTimeout, "slow_consumer_timeout": c.SlowConsumerTimeout} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("ws.%s must not be negative", name))
		}
	}
	return errors.Join(errs...)
}

// mountWS mounts the WebSocket adapter at /ws. On shutdown (after the HTTP
// server stopped accepting) every socket gets the last frames of its runs,
// for up to http.shutdown_timeout, then a 1001 close.
func (g *Gateway) mountWS(policy *auth.Policy) error {
	c := g.cfg.WS
	if c.Disabled {
		return nil
	}
	if err := c.validate(); err != nil {
		return err
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
