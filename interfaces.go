package agentgate

import (
	"context"
	"time"

	"github.com/agentgate/agentgate/adapters/rest"
	"github.com/agentgate/agentgate/auth"
)

// An adapter is one interface the gateway serves its agents on (rest, ws,
// mcp, a2a, slack). Each wraps its package's own Register/New; New mounts
// the enabled ones in order and they are shut down in reverse, on a failed
// start as on Shutdown. A new interface (AG-UI) is one more adapter in
// adapters().
type adapter interface {
	// name is the interface's type as /config lists it.
	name() string
	// mount registers the interface's routes on g and starts what it runs;
	// mounted is false (and err nil) when the config turns it off. route
	// is where /config says it is served.
	mount(g *Gateway, policy *auth.Policy) (route string, mounted bool, err error)
	// shutdown lets the interface deliver what it still owes its clients
	// (the last frames of their runs, push notifications, Slack replies)
	// within ctx. It runs once the HTTP server stopped accepting, while the
	// engine ends the remaining runs.
	shutdown(ctx context.Context) error
}

// adapters are the gateway's interfaces in mounting order.
func adapters() []adapter {
	return []adapter{&restAdapter{}, &wsAdapter{}, &mcpAdapter{}, &a2aAdapter{}, &slackAdapter{}}
}

// mountInterfaces mounts the enabled interfaces of all, in order. On a
// failure the ones already mounted are left in g.mounted for Shutdown to
// unwind.
func (g *Gateway) mountInterfaces(policy *auth.Policy, all []adapter) error {
	for _, a := range all {
		route, mounted, err := a.mount(g, policy)
		if err != nil {
			return err
		}
		if mounted {
			g.mounted = append(g.mounted, a)
			g.interfaces = append(g.interfaces, rest.InterfaceInfo{Type: a.name(), Version: "1", Route: route})
		}
	}
	return nil
}

// unmountInterfaces shuts the mounted interfaces down in reverse order,
// each within http.shutdown_timeout; one that could not finish is logged.
// Each is shut down once.
func (g *Gateway) unmountInterfaces() {
	for i := len(g.mounted) - 1; i >= 0; i-- {
		ctx, cancel := context.WithTimeout(context.Background(), g.shutdownGrace())
		if err := g.mounted[i].shutdown(ctx); err != nil {
			g.logger.Warn(g.mounted[i].name()+": shutdown cut short", "err", err)
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

// restAdapter is the REST + SSE API (always on).
type restAdapter struct{}

func (*restAdapter) name() string { return "rest" }

func (*restAdapter) mount(g *Gateway, policy *auth.Policy) (string, bool, error) {
	cfg := g.cfg
	rest.Register(g.srv, g.eng, rest.Config{
		Name: cfg.Name, Description: cfg.Description, Version: Version, ServiceAccounts: g.store,
		Databases:  []rest.DatabaseInfo{{ID: "default", Kind: g.backend.Kind, Migrator: g.backend.Migrator}},
		MCPPath:    "/mcp",
		Policy:     policy,
		Docs:       rest.DocsOptions{AuthMode: cfg.AuthMode, RateLimited: cfg.Auth.RateLimit.RPS > 0, ServerURL: cfg.HTTP.PublicURL},
		Interfaces: func() []rest.InterfaceInfo { return g.interfaces },
	})
	return "/", true, nil
}

// shutdown has nothing to deliver: REST's streams end with their runs,
// which the engine ends.
func (*restAdapter) shutdown(context.Context) error { return nil }
