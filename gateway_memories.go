package agentgate

// The memories' wiring (AgentOS's user memories, /memories): their config
// block (memory:) and the core/memory service on the state database, with
// the resolver of the models an optimisation names. (gateway_memory.go is
// the process's runtime memory limit, not this.)

import (
	"context"
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/memory"
	"github.com/agentgate/agentgate/core/model"
)

// MemoryConfig configures the memories (/memories, core/memory).
type MemoryConfig struct {
	// Enabled serves /memories (default true; false answers them with
	// 503).
	Enabled *bool `yaml:"enabled"`
	// Model is the model POST /optimize-memories uses when the request
	// names none: a model declared under models, or "provider:model_id"
	// (openai:gpt-4o-mini; the key from the provider's environment
	// variable). Empty: requests must name one.
	Model string `yaml:"model"`
}

// On reports whether memories are served.
func (c MemoryConfig) On() bool { return c.Enabled == nil || *c.Enabled }

// Validate checks that the model is declared or of the provider:model_id
// form.
func (c MemoryConfig) Validate(models map[string]ModelConfig) error {
	if c.Model == "" {
		return nil
	}
	if _, ok := models[c.Model]; ok {
		return nil
	}
	if _, _, err := modelRef(c.Model); err != nil {
		return fmt.Errorf("memory.model: %w", err)
	}
	return nil
}

// modelRef splits "provider:model_id".
func modelRef(name string) (provider, id string, err error) {
	provider, id, ok := strings.Cut(name, ":")
	switch {
	case !ok || provider == "" || strings.TrimSpace(id) == "":
		return "", "", fmt.Errorf("model %q is neither declared under models nor of the form provider:model_id", name)
	case provider != "openai" && provider != "anthropic" && provider != "scripted":
		return "", "", fmt.Errorf("model %q: provider must be openai, anthropic or scripted, not %q", name, provider)
	}
	return provider, id, nil
}

// memoryModels resolves the model an optimisation names: a declared model
// (built once), or "provider:model_id" (built for the request: the names
// come from callers, so none is kept).
func (g *Gateway) memoryModels() memory.Resolver {
	declared := map[string]model.Model{}
	return func(_ context.Context, name string) (model.Model, error) {
		if m, ok := declared[name]; ok {
			return m, nil
		}
		if mc, ok := g.cfg.Models[name]; ok {
			m, err := BuildModel(name, mc)
			if err != nil {
				return nil, core.Errorf(core.CodeInvalid, "model %q: %v", name, err)
			}
			declared[name] = m // only when the service is built: see buildMemories
			return m, nil
		}
		provider, id, err := modelRef(name)
		if err != nil {
			return nil, core.Errorf(core.CodeInvalid, "%v", err)
		}
		m, err := BuildModel(name, ModelConfig{Provider: provider, Model: id})
		if err != nil {
			return nil, core.Errorf(core.CodeInvalid, "model %q: %v", name, err)
		}
		return m, nil
	}
}

// buildMemories builds the memories' service on the state store.
func (g *Gateway) buildMemories() error {
	c := g.cfg.Memory
	if !c.On() {
		return nil
	}
	resolve := g.memoryModels()
	// The declared models are built here, once, so the resolver only reads
	// its map while requests run.
	for name := range g.cfg.Models {
		if _, err := resolve(context.Background(), name); err != nil {
			return fmt.Errorf("memory: %w", err)
		}
	}
	g.memories = memory.New(memory.Config{Store: g.store, Models: resolve, DefaultModel: c.Model})
	return nil
}
