package agentgate

// The learnings' wiring: their config, and the core/learning service on the
// state database.

import "github.com/agentgate/agentgate/core/learning"

// LearningsConfig configures the learnings (/learnings, core/learning).
type LearningsConfig struct {
	// Enabled serves /learnings (default true; false answers them with
	// 503).
	Enabled *bool `yaml:"enabled"`
}

// On reports whether learnings are served.
func (c LearningsConfig) On() bool { return c.Enabled == nil || *c.Enabled }

// buildLearnings builds the learnings' service on the state store.
func (g *Gateway) buildLearnings() {
	if g.cfg.Learnings.On() {
		g.learnings = learning.New(learning.Config{Store: g.store})
	}
}
