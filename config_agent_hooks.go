package agentgate

// An agent's hooks into the resource groups: its memory of its users
// (memory:, core/agent's MemoryConfig).

import (
	"fmt"

	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model"
)

// AgentMemoryConfig is an agent's memory: the user's memories given to
// the model on every run, extracted after each run (update_on_run) and
// changed by the model itself through tools (agentic).
type AgentMemoryConfig struct {
	// UpdateOnRun extracts and updates the user's memories with Model
	// after each run (MemoryUpdateStarted / MemoryUpdateCompleted).
	UpdateOnRun bool `yaml:"update_on_run"`
	// Agentic gives the model the tools add_memory, update_memory and
	// delete_memory.
	Agentic bool `yaml:"agentic"`
	// Model is the memory manager's model, declared under models (empty:
	// the agent's).
	Model string `yaml:"model"`
	// ContextLimit is how many of the user's newest memories the model is
	// given (0: 50; -1: none).
	ContextLimit int `yaml:"context_limit"`
}

// validateAgentHooks checks agents[i]'s memory block.
func (c *Config) validateAgentHooks(i int, a AgentConfig) []error {
	var errs []error
	if m := a.Memory; m != nil {
		where := fmt.Sprintf("agents[%d] (%s): memory", i, a.ID)
		if m.Model != "" {
			if _, ok := c.Models[m.Model]; !ok {
				errs = append(errs, fmt.Errorf("%s.model: %q is not declared under models", where, m.Model))
			}
		}
		if m.ContextLimit < -1 {
			errs = append(errs, fmt.Errorf("%s.context_limit: %d is neither a count nor -1 (none)", where, m.ContextLimit))
		}
	}
	return errs
}

// agentMemory is the core/agent memory of an agent declared with mc, on
// the gateway's state store.
func (g *Gateway) agentMemory(mc *AgentMemoryConfig, models map[string]model.Model) *agent.MemoryConfig {
	if mc == nil {
		return nil
	}
	return &agent.MemoryConfig{
		Store: g.store, UpdateOnRun: mc.UpdateOnRun, Agentic: mc.Agentic,
		Model: models[mc.Model], ContextLimit: mc.ContextLimit,
	}
}
