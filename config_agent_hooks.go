package agentgate

// An agent's hooks into the resource groups: its memory of its users
// (memory:, core/agent's MemoryConfig) and its knowledge base (knowledge:,
// search_knowledge, add_references; core/agent's KnowledgeConfig).

import (
	"context"
	"fmt"

	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/knowledge"
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
	if a.Knowledge == "" {
		if a.SearchKnowledge != nil && *a.SearchKnowledge || a.AddReferences || a.KnowledgeMaxResults != 0 {
			errs = append(errs, fmt.Errorf("agents[%d] (%s): search_knowledge, add_references and knowledge_max_results need knowledge (a knowledge base id)", i, a.ID))
		}
		return errs
	}
	found := false
	for _, kb := range c.Knowledge {
		found = found || kb.ID == a.Knowledge
	}
	if !found {
		errs = append(errs, fmt.Errorf("agents[%d] (%s): knowledge %q is not declared under knowledge", i, a.ID, a.Knowledge))
	}
	if a.KnowledgeMaxResults < 0 || a.KnowledgeMaxResults > 100 {
		errs = append(errs, fmt.Errorf("agents[%d] (%s): knowledge_max_results must be 1 to 100 (0: 5)", i, a.ID))
	}
	return errs
}

// agentKnowledge is the core/agent knowledge of agent ac: searches of its
// base through the knowledge service, each hit as AgentOS's search result.
func (g *Gateway) agentKnowledge(ac AgentConfig) *agent.KnowledgeConfig {
	if ac.Knowledge == "" || g.knowledge == nil {
		return nil
	}
	svc, id := g.knowledge, ac.Knowledge
	search := func(ctx context.Context, query string, limit int, filters map[string]any) ([]map[string]any, error) {
		res, err := svc.Search(ctx, knowledge.SearchRequest{Query: query, KnowledgeID: id, MaxResults: limit, Limit: limit, Page: 1, Filters: filters})
		if err != nil {
			return nil, err
		}
		out := make([]map[string]any, 0, len(res.Hits))
		for _, h := range res.Hits {
			out = append(out, map[string]any{
				"id": h.ID, "content": h.Text, "name": h.Name, "meta_data": h.Metadata,
				"content_id": h.ContentID, "content_origin": h.ContentOrigin, "reranking_score": h.Score,
			})
		}
		return out, nil
	}
	return &agent.KnowledgeConfig{
		Search: search, SearchKnowledge: ac.SearchKnowledge == nil || *ac.SearchKnowledge,
		AddReferences: ac.AddReferences, MaxResults: ac.KnowledgeMaxResults,
	}
}

// agentSummaries turns an agent's session summaries on, written by the
// memory block's model or the agent's.
func (g *Gateway) agentSummaries(ac AgentConfig, models map[string]model.Model) *agent.SummaryConfig {
	if !ac.SessionSummaries {
		return nil
	}
	sc := &agent.SummaryConfig{Store: g.store}
	if ac.Memory != nil {
		sc.Model = models[ac.Memory.Model]
	}
	return sc
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
