package agentgate

import (
	"context"
	"errors"
	"time"

	"github.com/agentgate/agentgate/adapters/a2a"
	"github.com/agentgate/agentgate/auth"
)

// A2AConfig configures the A2A interface; the a2a package owns it and its
// parts.
type (
	A2AConfig      = a2a.Settings
	A2AAgentConfig = a2a.AgentSettings
	A2ASkill       = a2a.Skill
	A2APushConfig  = a2a.PushSettings
)

// a2aAdapter mounts the A2A adapter. The push notification operations it
// serves beyond the default policy are registered here (same scope as the
// other task methods: agents:<id>:run).
type a2aAdapter struct{ h *a2a.Handler }

func (*a2aAdapter) name() string { return "a2a" }

func (a *a2aAdapter) mount(g *Gateway, policy *auth.Policy) (string, bool, error) {
	c := g.cfg.A2A
	if c.Disabled {
		return "", false, nil
	}
	// Config.Validate refused the errors already; the warnings are said here.
	warnings, _ := c.Validate(g.cfg.agentIDs())
	for _, w := range warnings {
		g.logger.Warn(w)
	}
	skills := map[string][]a2a.Skill{}
	for id, ac := range c.Agents {
		skills[id] = ac.Skills
	}
	a.h = a2a.Register(g.srv, g.eng, a2a.Config{
		Name: g.cfg.Name, Description: g.cfg.Description, Version: Version,
		PublicURL: c.PublicURL, AuthMode: g.cfg.AuthMode, Policy: policy,
		CardMaxAge: c.CardMaxAge, Skills: skills,
		Push: a2a.PushOptions{Disabled: c.Push.Disabled, MaxAttempts: c.Push.MaxAttempts, Timeout: c.Push.Timeout,
			MaxBackoff: c.Push.MaxBackoff, Egress: g.egress},
		Logger: g.logger,
	})
	return "/a2a/agents", true, nil
}

// shutdown delivers the last notifications of the tasks still followed
// for up to half of the grace (the engine ends the remaining runs
// meanwhile); then what is left is dropped.
func (a *a2aAdapter) shutdown(ctx context.Context) error {
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(dl)/2))
		defer cancel()
	}
	if err := a.h.Close(ctx); err != nil {
		return errors.New("push notifications still undelivered at the end of the shutdown grace")
	}
	return nil
}
