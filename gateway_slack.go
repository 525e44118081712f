package agentgate

import (
	"context"
	"errors"
	"os"
	"strings"

	slackadapter "github.com/agentgate/agentgate/adapters/slack"
	"github.com/agentgate/agentgate/auth"
)

// SlackConfig configures the Slack interface; the slack package owns it.
type (
	SlackConfig    = slackadapter.Settings
	SlackAppConfig = slackadapter.AppSettings
)

// slackAdapter mounts the Slack adapter when at least one app is
// configured. At shutdown, replies still being written get up to
// http.shutdown_timeout to finish (runs the engine cancels end with a final
// message).
type slackAdapter struct{ h *slackadapter.Handler }

func (*slackAdapter) name() string { return "slack" }

func (a *slackAdapter) mount(g *Gateway, policy *auth.Policy) (string, bool, error) {
	c := g.cfg.Slack
	apps, err := c.ResolveApps(os.LookupEnv)
	if err != nil {
		return "", false, err
	}
	if len(apps) == 0 {
		return "", false, nil
	}
	h, err := slackadapter.New(g.eng, slackadapter.Config{
		Apps: apps, Streaming: c.Streaming, SocketMode: c.SocketMode, UpdateInterval: c.UpdateInterval,
		AnyoneCanApprove: c.AnyoneCanApprove, Policy: policy, Logger: g.logger,
	})
	if err != nil {
		return "", false, err
	}
	a.h = h
	// Socket Mode apps only: no route, Slack is reached from here.
	route := ""
	if h.HasHTTPApps() {
		h.Register(g.srv.App)
		route = "/slack"
	}
	names := make([]string, 0, len(apps))
	for _, a := range apps {
		names = append(names, a.Name+"→"+a.AgentID)
	}
	g.logger.Info("slack interface on", "apps", strings.Join(names, ","), "streaming", c.Streaming, "socket_mode", c.SocketMode)
	return route, true, nil
}

func (a *slackAdapter) shutdown(ctx context.Context) error {
	if err := a.h.Shutdown(ctx); err != nil {
		return errors.New("replies still being written at the end of the shutdown grace were cut short")
	}
	return nil
}
