package agentgate

import (
	"fmt"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/workflow"
)

// buildWorkflows registers the configured workflows, once the agents (and
// teams) they run are registered: a step's agent or team must be one.
func (g *Gateway) buildWorkflows() error {
	for _, wc := range g.cfg.Workflows {
		def, err := wc.definition()
		if err != nil {
			return err
		}
		if err := g.RegisterWorkflow(def); err != nil {
			return err
		}
	}
	return nil
}

// RegisterWorkflow builds a workflow written in Go (its steps may run Go
// functions: workflow.Func) and serves it like the configured ones. The
// agents and teams its steps run must be registered already.
func (g *Gateway) RegisterWorkflow(def workflow.Definition) error {
	w, err := g.newWorkflow(def)
	if err != nil {
		return err
	}
	if err := g.eng.RegisterRunnable(w); err != nil {
		return fmt.Errorf("workflow %s: %w", def.ID, err)
	}
	return nil
}

// newWorkflow builds a workflow whose agents and teams are runnable
// already (the components build theirs with it too).
func (g *Gateway) newWorkflow(def workflow.Definition) (core.Runnable, error) {
	return workflow.New(def, workflow.Options{Known: func(k core.Kind, id string) bool {
		_, err := g.eng.Runnable(k, id)
		return err == nil
	}})
}
