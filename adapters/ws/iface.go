package ws

import (
	"context"
	"fmt"
	"slices"

	"github.com/agentgate/agentgate/transport/httptransport"
)

// Interface is the WebSocket interface as the gateway mounts it (an
// httptransport.Interface): at /ws unless its settings turn it off. On
// shutdown every socket gets the last frames of its runs, within the
// grace, then a 1001 close.
type Interface struct {
	cfg Config
	h   *Handler
}

// NewInterface returns the interface over cfg; Mount supplies the policy,
// the authenticator and the logger, and adds the server's CORS origins to
// cfg.AllowedOrigins.
func NewInterface(cfg Config) *Interface { return &Interface{cfg: cfg} }

// Name is "ws".
func (*Interface) Name() string { return "ws" }

// Mount registers /ws, unless Disabled.
func (i *Interface) Mount(d httptransport.Deps) (string, bool, error) {
	if i.cfg.Disabled {
		return "", false, nil
	}
	cfg := i.cfg
	sc := d.Server.Config()
	cfg.AllowedOrigins = slices.Concat(cfg.AllowedOrigins, sc.CORSOrigins)
	cfg.Policy, cfg.Auth, cfg.Logger = d.Policy, sc.Auth, d.Logger
	i.h = Register(d.Server.App, d.Engine, cfg)
	return Path, true, nil
}

// Shutdown drains the sockets (Handler.Shutdown).
func (i *Interface) Shutdown(ctx context.Context) error {
	if err := i.h.Shutdown(ctx); err != nil {
		return fmt.Errorf("%d sockets still open at the end of the shutdown grace", i.h.Connections())
	}
	return nil
}

// Connections is the number of sockets open now (0 before Mount).
func (i *Interface) Connections() int {
	if i.h == nil {
		return 0
	}
	return i.h.Connections()
}
