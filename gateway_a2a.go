package agentgate

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/agentgate/agentgate/adapters/a2a"
	"github.com/agentgate/agentgate/auth"
)

// A2AConfig configures the A2A interface (agent cards, JSON-RPC for A2A
// v1.0 and v0.3, the v1.0 HTTP+JSON binding; see adapters/a2a). Zero values
// take the defaults.
type A2AConfig struct {
	// Disabled turns the interface off.
	Disabled bool `yaml:"disabled"`
	// PublicURL is the scheme://host[:port] clients reach the gateway at,
	// used for the URLs in agent cards (behind a proxy); empty: the
	// request's own host.
	PublicURL string `yaml:"public_url"`
	// CardMaxAge is the Cache-Control max-age of agent cards (default 5m).
	CardMaxAge time.Duration `yaml:"card_max_age"`
	// Agents holds per-agent card settings, by agent id.
	Agents map[string]A2AAgentConfig `yaml:"agents"`
	// Push configures push notifications (webhooks).
	Push A2APushConfig `yaml:"push"`
}

// A2AAgentConfig is what an agent's card says beyond the agent's own
// config (name and description come from there).
type A2AAgentConfig struct {
	// Skills replace the default skill (one skill describing the agent).
	Skills []A2ASkill `yaml:"skills"`
}

// A2ASkill is one skill of an agent card.
type A2ASkill struct {
	ID          string   `yaml:"id"`
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Tags        []string `yaml:"tags"`
	Examples    []string `yaml:"examples"`
}

// A2APushConfig configures push notification delivery. Configs are kept
// in memory by the replica that received them: a restart loses them and
// any notification not yet delivered.
type A2APushConfig struct {
	// Disabled turns push notifications off.
	Disabled bool `yaml:"disabled"`
	// MaxAttempts bounds the POSTs of one notification (default 6).
	MaxAttempts int `yaml:"max_attempts"`
	// Timeout bounds one POST (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// MaxBackoff caps the wait between retries (default 10s; the first
	// wait is 500ms, doubling).
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

// validate checks the settings; it returns warnings for per-agent settings
// naming no configured agent (it may be one registered from Go later).
func (c A2AConfig) validate(agentIDs map[string]bool) (warnings []string, err error) {
	var errs []error
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("a2a.public_url %q: want http(s)://host[:port]", c.PublicURL))
		}
	}
	if c.CardMaxAge < 0 || c.Push.Timeout < 0 || c.Push.MaxBackoff < 0 || c.Push.MaxAttempts < 0 {
		errs = append(errs, errors.New("a2a: card_max_age and push.max_attempts, timeout, max_backoff must not be negative"))
	}
	for id, ac := range c.Agents {
		if !agentIDs[id] {
			warnings = append(warnings, "a2a.agents."+id+": no agent with this id in the config (fine if it is registered from Go)")
		}
		for i, s := range ac.Skills {
			if strings.TrimSpace(s.ID) == "" || strings.TrimSpace(s.Name) == "" {
				errs = append(errs, fmt.Errorf("a2a.agents.%s.skills[%d]: id and name are required", id, i))
			}
		}
	}
	return warnings, errors.Join(errs...)
}

// mountA2A mounts the A2A adapter. The push notification operations it
// serves beyond the default policy are registered here (same scope as the
// other task methods: agents:<id>:run).
func (g *Gateway) mountA2A(policy *auth.Policy) error {
	c := g.cfg.A2A
	if c.Disabled {
		return nil
	}
	ids := map[string]bool{}
	for _, a := range g.cfg.Agents {
		ids[a.ID] = true
	}
	warnings, err := c.validate(ids)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		g.logger.Warn(w)
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
