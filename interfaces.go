package agentgate

import (
	"context"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/agentgate/agentgate/adapters/a2a"
	mcpadapter "github.com/agentgate/agentgate/adapters/mcp"
	"github.com/agentgate/agentgate/adapters/rest"
	slackadapter "github.com/agentgate/agentgate/adapters/slack"
	"github.com/agentgate/agentgate/adapters/ws"
	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// The interfaces' settings, as Config embeds them: each adapter package
// owns its block (yaml tags, defaults, Validate).
type (
	// WSConfig configures the WebSocket interface at /ws (the ws: block).
	WSConfig = ws.Settings
	// MCPConfig configures the MCP interface (the mcp: block).
	MCPConfig = mcpadapter.Settings
	// A2AConfig configures the A2A interface (the a2a: block) and its parts.
	A2AConfig      = a2a.Settings
	A2AAgentConfig = a2a.AgentSettings
	A2ASkill       = a2a.Skill
	A2APushConfig  = a2a.PushSettings
	// SlackConfig configures the Slack interface (the slack: block).
	SlackConfig    = slackadapter.Settings
	SlackAppConfig = slackadapter.AppSettings
)

// interfaces are the gateway's interfaces in mounting order, each over its
// block of the config; a new one (AG-UI) is one more line here. WebSocket
// is mounted first: fiber matches routes in the order they were added, and
// its /workflows/ws (agno's workflow socket) must win over REST's
// /workflows/{workflow_id}. /config lists them in listingOrder.
func (g *Gateway) interfaces() []httptransport.Interface {
	cfg := g.cfg
	// One resolver (and one egress-guarded client) for every interface.
	media := g.mediaResolver()
	return []httptransport.Interface{
		ws.NewInterface(ws.Config{Settings: cfg.WS, Media: media}),
		rest.NewInterface(rest.Config{
			ServiceAccounts: g.store,
			Schedules:       g.schedules,
			Memories:        g.memories,
			Knowledge:       g.knowledge,
			Learnings:       g.learnings,
			Evals:           g.evals,
			Components:      g.components,
			Traces:          g.traces,
			Metrics:         g.metrics,
			Media:           media,
			Databases:       []rest.DatabaseInfo{{ID: "default", Kind: g.backend.Kind, Migrator: g.backend.Migrator}},
			MCPPath:         mcpadapter.Path,
			Docs:            rest.DocsOptions{AuthMode: cfg.AuthMode, RateLimited: cfg.Auth.RateLimit.RPS > 0, ServerURL: cfg.HTTP.PublicURL},
			Interfaces:      func() []rest.InterfaceInfo { return g.mountedInfo },
		}),
		mcpadapter.NewInterface(mcpadapter.Config{Settings: cfg.MCP, Media: g.media}),
		a2a.NewInterface(a2a.Config{Settings: a2aSettings(*cfg), PushDelivery: a2a.PushDelivery{Egress: g.egress}, Media: media}),
		slackadapter.NewInterface(cfg.Slack, os.LookupEnv, media),
	}
}

// a2aSettings are the a2a: block, its public URL (cards, media URLs of
// tasks and push notifications) defaulting to http.public_url when that
// is an absolute http(s) URL.
func a2aSettings(cfg Config) a2a.Settings {
	s := cfg.A2A
	if s.PublicURL == "" {
		if u, err := url.Parse(cfg.HTTP.PublicURL); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
			s.PublicURL = cfg.HTTP.PublicURL
		}
	}
	return s
}

// deps are what every interface is mounted with.
func (g *Gateway) deps(policy *auth.Policy) httptransport.Deps {
	return httptransport.Deps{Server: g.srv, Engine: g.eng, Policy: policy, Logger: g.logger,
		Gateway: httptransport.GatewayInfo{Name: g.cfg.Name, Description: g.cfg.Description, Version: Version}}
}

// mountInterfaces mounts the enabled interfaces of all, in order. On a
// failure the ones already mounted are left in g.mounted for Shutdown to
// unwind.
func (g *Gateway) mountInterfaces(policy *auth.Policy, all []httptransport.Interface) error {
	d := g.deps(policy)
	for _, i := range all {
		route, mounted, err := i.Mount(d)
		if err != nil {
			return err
		}
		if mounted {
			g.mounted = append(g.mounted, i)
			g.mountedInfo = append(g.mountedInfo, rest.InterfaceInfo{Type: i.Name(), Version: "1", Route: route})
		}
	}
	slices.SortStableFunc(g.mountedInfo, func(a, b rest.InterfaceInfo) int {
		return listingOrder(a.Type) - listingOrder(b.Type)
	})
	return nil
}

// listingOrder is where /config lists an interface: REST first, then the
// others as they were added to the product.
func listingOrder(name string) int {
	if i := slices.Index([]string{"rest", "ws", "mcp", "a2a", "slack"}, name); i >= 0 {
		return i
	}
	return 100
}

// unmountInterfaces shuts the mounted interfaces down in reverse order,
// each within http.shutdown_timeout; one that could not finish is logged.
// Each is shut down once.
func (g *Gateway) unmountInterfaces() {
	for i := len(g.mounted) - 1; i >= 0; i-- {
		ctx, cancel := context.WithTimeout(context.Background(), g.shutdownGrace())
		if err := g.mounted[i].Shutdown(ctx); err != nil {
			g.logger.Warn(g.mounted[i].Name()+": shutdown cut short", "err", err)
		}
		cancel()
		g.mounted = g.mounted[:i]
	}
}

// shutdownGrace is http.shutdown_timeout (default 15s).
func (g *Gateway) shutdownGrace() time.Duration {
	if g.cfg.HTTP.ShutdownTimeout > 0 {
		return g.cfg.HTTP.ShutdownTimeout
	}
	return 15 * time.Second
}
