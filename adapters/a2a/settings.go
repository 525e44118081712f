package a2a

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Settings are the operator's settings of the A2A interface (agent cards,
// JSON-RPC for A2A v1.0 and v0.3, the v1.0 HTTP+JSON binding), as the
// gateway's config file spells them (the a2a: block). Zero values take the
// defaults.
type Settings struct {
	// Disabled turns the interface off.
	Disabled bool `yaml:"disabled"`
	// PublicURL is the scheme://host[:port] clients reach the gateway at,
	// used for the URLs in agent cards (behind a proxy); empty: the
	// request's own host.
	PublicURL string `yaml:"public_url"`
	// CardMaxAge is the Cache-Control max-age of agent cards (default 5m).
	CardMaxAge time.Duration `yaml:"card_max_age"`
	// Agents holds per-agent card settings, by agent id.
	Agents map[string]AgentSettings `yaml:"agents"`
	// Push configures push notifications (webhooks).
	Push PushSettings `yaml:"push"`
}

// AgentSettings is what an agent's card says beyond the agent's own
// config (name and description come from there).
type AgentSettings struct {
	// Skills replace the default skill (one skill describing the agent).
	Skills []Skill `yaml:"skills"`
}

// PushSettings configures push notification delivery. Configs are kept
// in memory by the replica that received them: a restart loses them and
// any notification not yet delivered.
type PushSettings struct {
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

// Validate checks the settings; it returns warnings for per-agent settings
// naming no configured agent (it may be one registered from Go later).
func (c Settings) Validate(agentIDs map[string]bool) (warnings []string, err error) {
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
