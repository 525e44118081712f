package agentgate

import (
	"context"
	"time"

	"github.com/agentgate/agentgate/adapters/a2a"
	"github.com/agentgate/agentgate/auth"
)

// A2AConfig configures the A2A interface; the a2a package owns it and its
// parts.
type (
	A2AConfig      = a2a.Settings
	A2AAgentConfig = a2a.AgentSettings
	A2ASkill       = a2a.SkillSettings
	A2APushConfig  = a2a.PushSettings
)

// mountA2A mounts the A2A adapter. The push notification operations it
// serves beyond the default policy are registered here (same scope as the
// other task methods: agents:<id>:run).
func (g *Gateway) mountA2A(policy *auth.Policy) error {
	c := g.cfg.A2A
	if c.Disabled {
		return nil
	}
	// Config.Validate refused the errors already; the warnings are said here.
	warnings, _ := c.Validate(g.cfg.agentIDs())
	for _, w := range warnings {
		g.logger.Warn(w)
	}
	for _, op := range a2a.PolicyOperations() {
		if _, ok := policy.Lookup(op.ID); !ok {
			policy.Register(op)
		}
	}
	skills := map[string][]a2a.Skill{}
	for id, ac := range c.Agents {
		for _, s := range ac.Skills {
			skills[id] = append(skills[id], a2a.Skill{ID: s.ID, Name: s.Name, Description: s.Description, Tags: s.Tags, Examples: s.Examples})
		}
	}
	h := a2a.Register(g.srv, g.eng, a2a.Config{
		Name: g.cfg.Name, Description: g.cfg.Description, Version: Version,
		PublicURL: c.PublicURL, AuthMode: g.cfg.AuthMode, Policy: policy,
		CardMaxAge: c.CardMaxAge, Skills: skills,
		Push: a2a.PushOptions{Disabled: c.Push.Disabled, MaxAttempts: c.Push.MaxAttempts, Timeout: c.Push.Timeout,
			MaxBackoff: c.Push.MaxBackoff, Egress: g.egress},
		Logger: g.logger,
	})
	// At shutdown (fiber runs the hook once the HTTP server stopped, while
	// the engine ends the remaining runs), the last notifications of the
	// tasks still followed are delivered for up to half of
	// http.shutdown_timeout; then what is left is dropped.
	grace := g.cfg.HTTP.ShutdownTimeout / 2
	if grace <= 0 {
		grace = 7 * time.Second
	}
	g.srv.App.Hooks().OnShutdown(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			g.logger.Warn("a2a: push notifications still undelivered at the end of the shutdown grace")
		}
		return nil
	})
	return nil
}
