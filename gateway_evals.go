package agentgate

// The evals' wiring: their config, and the core/eval service on the state
// store, the engine and the configured models (the judges).

import (
	"context"
	"slices"
	"time"

	"github.com/agentgate/agentgate/core/eval"
	"github.com/agentgate/agentgate/core/model"
)

// EvalsConfig configures the evals (/eval-runs, core/eval).
type EvalsConfig struct {
	// Enabled serves /eval-runs (default true; false answers them with
	// 503).
	Enabled *bool `yaml:"enabled"`
}

// On reports whether evals are served.
func (c EvalsConfig) On() bool { return c.Enabled == nil || *c.Enabled }

// buildEvals builds the evals' service: the judge model_id names one of
// the config's models.
func (g *Gateway) buildEvals() error {
	if !g.cfg.Evals.On() {
		return nil
	}
	models := map[string]model.Model{}
	for name, mc := range g.cfg.Models {
		m, err := BuildModel(name, mc)
		if err != nil {
			return err
		}
		models[name] = m
	}
	names := make([]string, 0, len(models))
	for n := range models {
		names = append(names, n)
	}
	slices.Sort(names)
	g.evals = eval.New(eval.Config{Store: g.store, Runner: g.eng, Logger: g.logger,
		Model:  func(name string) (model.Model, bool) { m, ok := models[name]; return m, ok },
		Models: func() []string { return names }})
	return nil
}

// Evals is the gateway's evals service (nil when evals are off): what
// `agentgate eval` runs suites with in-process.
func (g *Gateway) Evals() *eval.Service { return g.evals }

// closeEvals ends the eval runs still executing (their records end
// failed), waiting for them up to ctx (at most 5 s).
func (g *Gateway) closeEvals(ctx context.Context) error {
	if g.evals == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return g.evals.Close(ctx)
}
