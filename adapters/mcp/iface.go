package mcp

import (
	"context"

	"github.com/agentgate/agentgate/transport/httptransport"
)

// Path is where the gateway serves the Streamable HTTP endpoint.
const Path = "/mcp"

// Interface is the MCP interface as the gateway mounts it (an
// httptransport.Interface): Streamable HTTP at /mcp.
type Interface struct{ cfg Config }

// NewInterface returns the interface over cfg; Mount supplies the
// gateway's description, the policy, the SSE heartbeat and the logger.
func NewInterface(cfg Config) *Interface { return &Interface{cfg: cfg} }

// Name is "mcp".
func (*Interface) Name() string { return "mcp" }

// Mount builds the server and registers /mcp.
func (i *Interface) Mount(d httptransport.Deps) (string, bool, error) {
	cfg := i.cfg
	cfg.Name, cfg.Description, cfg.Version = d.Gateway.Name, d.Gateway.Description, d.Gateway.Version
	cfg.Policy, cfg.Heartbeat, cfg.Logger = d.Policy, d.Server.Config().HeartbeatInterval, d.Logger
	New(d.Engine, cfg).Register(d.Server.App, Path)
	return Path, true, nil
}

// Shutdown has nothing to deliver: a tool call's stream ends with its run,
// which the engine ends.
func (*Interface) Shutdown(context.Context) error { return nil }
