package agentgate

import (
	"context"
	"os"
	"strings"
	"time"

	slackadapter "github.com/agentgate/agentgate/adapters/slack"
	"github.com/agentgate/agentgate/auth"
)

// SlackConfig configures the Slack interface; the slack package owns it.
type (
	SlackConfig    = slackadapter.Settings
	SlackAppConfig = slackadapter.AppSettings
)

// mountSlack mounts the Slack adapter when at least one app is configured.
// At shutdown, replies still being written get up to http.shutdown_timeout
// to finish (runs the engine cancels end with a final message).
func (g *Gateway) mountSlack(policy *auth.Policy) error {
	c := g.cfg.Slack
	apps, err := c.ResolveApps(os.LookupEnv)
	if err != nil {
		return err
	}
	if len(apps) == 0 {
		return nil
	}
	h, err := slackadapter.New(g.eng, slackadapter.Config{
		Apps: apps, Streaming: c.Streaming, SocketMode: c.SocketMode, UpdateInterval: c.UpdateInterval,
		AnyoneCanApprove: c.AnyoneCanApprove, Policy: policy, Logger: g.logger,
	})
	if err != nil {
		return err
	}
	if h.HasHTTPApps() {
		h.Register(g.srv.App)
	}
	names := make([]string, 0, len(apps))
	for _, a := range apps {
		names = append(names, a.Name+"→"+a.AgentID)
	}
	g.logger.Info("slack interface on", "apps", strings.Join(names, ","), "streaming", c.Streaming, "socket_mode", c.SocketMode)
	grace := g.cfg.HTTP.ShutdownTimeout
	if grace <= 0 {
		grace = 15 * time.Second
	}
	g.srv.App.Hooks().OnShutdown(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			g.logger.Warn("slack: replies still being written at the end of the shutdown grace were cut short")
		}
		return nil
	})
	return nil
}
