package httptransport

import (
	"context"
	"log/slog"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
)

// An Interface is one interface the gateway serves its agents on: rest,
// ws, mcp, a2a, slack (AG-UI later). Each adapter package implements it
// over its own settings; the gateway mounts the enabled ones in order and
// shuts them down in reverse, on a failed start as on shutdown.
type Interface interface {
	// Name is the interface's type as /config lists it.
	Name() string
	// Mount registers the interface's routes on d.Server and starts what
	// it runs. mounted is false (and err nil) when its settings turn it
	// off; route is where /config says it is served ("" when it has no
	// route of its own).
	Mount(d Deps) (route string, mounted bool, err error)
	// Shutdown lets the interface deliver what it still owes its clients
	// (the last frames of their runs, push notifications, chat replies)
	// within ctx. It is called once, on mounted interfaces only, after the
	// HTTP server stopped accepting, while the engine ends the remaining
	// runs.
	Shutdown(ctx context.Context) error
}

// Deps are what an interface is mounted with.
type Deps struct {
	// Server is the HTTP server: routes go on Server.App; Server.Config()
	// holds the authenticator, the heartbeat and the CORS origins.
	Server *Server
	// Engine runs the agents.
	Engine *core.Engine
	// Policy is where the interface declares its operations; the gateway
	// checks its coverage once every interface is mounted.
	Policy *auth.Policy
	Logger *slog.Logger
	// Gateway describes the gateway the interface serves.
	Gateway GatewayInfo
}

// GatewayInfo describes the gateway to the clients of an interface
// (/config, the MCP server info, A2A cards).
type GatewayInfo struct {
	Name, Description, Version string
}
