package rest

import (
	"context"

	"github.com/agentgate/agentgate/transport/httptransport"
)

// Interface is the REST + SSE API as the gateway mounts it (an
// httptransport.Interface); it is always on.
type Interface struct{ cfg Config }

// NewInterface returns the interface over cfg; Mount supplies the
// gateway's description and the policy.
func NewInterface(cfg Config) *Interface { return &Interface{cfg: cfg} }

// Name is "rest".
func (*Interface) Name() string { return "rest" }

// Mount registers the routes at the root.
func (i *Interface) Mount(d httptransport.Deps) (string, bool, error) {
	cfg := i.cfg
	cfg.Name, cfg.Description, cfg.Version = d.Gateway.Name, d.Gateway.Description, d.Gateway.Version
	cfg.Policy = d.Policy
	Register(d.Server, d.Engine, cfg)
	return "/", true, nil
}

// Shutdown has nothing to deliver: REST's streams end with their runs,
// which the engine ends.
func (*Interface) Shutdown(context.Context) error { return nil }
