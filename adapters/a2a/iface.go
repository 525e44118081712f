package a2a

import (
	"context"
	"errors"
	"time"

	"github.com/agentgate/agentgate/transport/httptransport"
)

// Interface is the A2A interface as the gateway mounts it (an
// httptransport.Interface): cards and endpoints under /a2a/agents unless
// its settings turn it off.
type Interface struct {
	cfg Config
	h   *Handler
}

// NewInterface returns the interface over cfg; Mount supplies the
// gateway's description, the auth mode the cards show (the server's
// authenticator's), the policy and the logger.
func NewInterface(cfg Config) *Interface { return &Interface{cfg: cfg} }

// Name is "a2a".
func (*Interface) Name() string { return "a2a" }

// Mount registers the routes, unless Disabled, and logs the settings'
// warnings (per-agent settings naming no agent; the errors were refused
// when the config was validated).
func (i *Interface) Mount(d httptransport.Deps) (string, bool, error) {
	if i.cfg.Disabled {
		return "", false, nil
	}
	cfg := i.cfg
	ids := map[string]bool{}
	for _, a := range d.Engine.Agents() {
		ids[a.Info().ID] = true
	}
	warnings, err := cfg.Validate(ids)
	if err != nil {
		return "", false, err
	}
	for _, w := range warnings {
		d.Logger.Warn(w)
	}
	cfg.Name, cfg.Description, cfg.Version = d.Gateway.Name, d.Gateway.Description, d.Gateway.Version
	cfg.AuthMode, cfg.Policy, cfg.Logger = d.Server.Config().Auth.Mode(), d.Policy, d.Logger
	i.h = Register(d.Server, d.Engine, cfg)
	return "/a2a/agents", true, nil
}

// Shutdown delivers the last notifications of the tasks still followed
// for up to half of ctx's time (the engine ends the remaining runs
// meanwhile); then what is left is dropped.
func (i *Interface) Shutdown(ctx context.Context) error {
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(dl)/2))
		defer cancel()
	}
	if err := i.h.Close(ctx); err != nil {
		return errors.New("push notifications still undelivered at the end of the shutdown grace")
	}
	return nil
}
