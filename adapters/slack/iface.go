package slack

import (
	"context"
	"errors"
	"strings"

	"github.com/agentgate/agentgate/core/media"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// Interface is the Slack interface as the gateway mounts it (an
// httptransport.Interface): on when its settings configure at least one
// app; /slack/events and /slack/interactions unless every app uses Socket
// Mode. At shutdown, replies still being written get until ctx ends to
// finish (runs the engine cancels end with a final message).
type Interface struct {
	settings Settings
	lookup   func(string) (string, bool)
	media    *media.Resolver
	h        *Handler
}

// NewInterface returns the interface over the operator's settings; lookup
// finds the apps' secrets in the environment (os.LookupEnv); m stores the
// files shared with the bot and reads the media runs produce (Config.Media;
// nil: none).
func NewInterface(s Settings, lookup func(string) (string, bool), m *media.Resolver) *Interface {
	return &Interface{settings: s, lookup: lookup, media: m}
}

// Name is "slack".
func (*Interface) Name() string { return "slack" }

// Mount resolves the apps and starts the adapter; with no app it is off.
func (i *Interface) Mount(d httptransport.Deps) (string, bool, error) {
	s := i.settings
	apps, err := s.ResolveApps(i.lookup)
	if err != nil {
		return "", false, err
	}
	if len(apps) == 0 {
		return "", false, nil
	}
	h, err := New(d.Engine, Config{
		Apps: apps, Streaming: s.Streaming, SocketMode: s.SocketMode, UpdateInterval: s.UpdateInterval,
		AnyoneCanApprove: s.AnyoneCanApprove, Policy: d.Policy, Logger: d.Logger, Media: i.media,
	})
	if err != nil {
		return "", false, err
	}
	i.h = h
	if h.HasApprovalsChannel() {
		// Before serving: the engine tells it of every approval.
		d.Engine.AddApprovalObserver(h)
	}
	// Socket Mode apps only: no route, Slack is reached from here.
	route := ""
	if h.HasHTTPApps() {
		h.Register(d.Server.App)
		route = "/slack"
	}
	names := make([]string, 0, len(apps))
	for _, a := range apps {
		names = append(names, a.Name+"→"+a.AgentID)
	}
	d.Logger.Info("slack interface on", "apps", strings.Join(names, ","), "streaming", s.Streaming, "socket_mode", s.SocketMode)
	return route, true, nil
}

// Shutdown waits for the replies being written (Handler.Shutdown).
func (i *Interface) Shutdown(ctx context.Context) error {
	if err := i.h.Shutdown(ctx); err != nil {
		return errors.New("replies still being written at the end of the shutdown grace were cut short")
	}
	return nil
}
