package agent

// The agent's knowledge: a knowledge base it searches itself through a tool
// (search_knowledge, agentic RAG) or whose best chunks for the user's
// message are put in its instructions (add_references). Either way the
// chunks used are the run's references.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/tool"
)

// KnowledgeSearch searches the agent's knowledge base for query, among the
// chunks filters select (the run's knowledge filters, nil: all), and
// answers at most limit chunks, best first, each as a JSON object with at
// least "content" (the wiring gives AgentOS's search result fields: id,
// content, name, meta_data, content_id, reranking_score).
type KnowledgeSearch func(ctx context.Context, query string, limit int, filters map[string]any) ([]map[string]any, error)

// KnowledgeConfig gives an agent a knowledge base.
type KnowledgeConfig struct {
	Search KnowledgeSearch
	// SearchKnowledge gives the model the search_knowledge_base tool.
	SearchKnowledge bool
	// AddReferences puts the best chunks for the user's message into the
	// instructions before the first model request.
	AddReferences bool
	// MaxResults bounds the chunks of one search (0: 5).
	MaxResults int
}

func (k *KnowledgeConfig) limit() int {
	if k.MaxResults > 0 {
		return k.MaxResults
	}
	return 5
}

// refsKey holds a run's references collector in the context of its
// execution (the tool is shared by every run of the agent).
type refsKey struct{}

// refs collects a run's references; the tool may be called concurrently
// by one model turn's calls. filters are the run's knowledge filters.
type refs struct {
	mu      sync.Mutex
	list    []core.MessageReferences
	filters map[string]any
}

func (r *refs) add(m core.MessageReferences) {
	r.mu.Lock()
	r.list = append(r.list, m)
	r.mu.Unlock()
}

func (r *refs) all() []core.MessageReferences {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.list) == 0 {
		return nil
	}
	return append([]core.MessageReferences(nil), r.list...)
}

// lookup searches and records the search as references.
func (a *Agent) lookup(ctx context.Context, query string) ([]map[string]any, error) {
	k := a.cfg.Knowledge
	start := time.Now()
	r, _ := ctx.Value(refsKey{}).(*refs)
	var filters map[string]any
	if r != nil {
		filters = r.filters
	}
	hits, err := k.Search(ctx, query, k.limit(), filters)
	if err != nil {
		return nil, err
	}
	if hits == nil {
		hits = []map[string]any{}
	}
	if r != nil {
		r.add(core.MessageReferences{Query: query, References: hits, Time: time.Since(start).Seconds()})
	}
	return hits, nil
}

// referencesContext is the instructions' section with the best chunks for
// the user's message (add_references).
func (a *Agent) referencesContext(ctx context.Context, message string) (string, error) {
	k := a.cfg.Knowledge
	if k == nil || !k.AddReferences || strings.TrimSpace(message) == "" {
		return "", nil
	}
	hits, err := a.lookup(ctx, message)
	if err != nil {
		return "", fmt.Errorf("searching the knowledge base: %w", err)
	}
	if len(hits) == 0 {
		return "", nil
	}
	var b strings.Builder
	b.WriteString("Use the following references from the knowledge base if they help answer the user:\n<references>\n")
	for _, h := range hits {
		c, _ := h["content"].(string)
		b.WriteString("- ")
		b.WriteString(c)
		b.WriteByte('\n')
	}
	b.WriteString("</references>")
	return b.String(), nil
}

// knowledgeTool is search_knowledge_base.
func (a *Agent) knowledgeTool() *tool.Tool {
	return &tool.Tool{
		Name:        "search_knowledge_base",
		Description: "Search the knowledge base for information relevant to a query. Returns the most relevant passages.",
		Parameters: map[string]any{"type": "object", "properties": map[string]any{
			"query": map[string]any{"type": "string", "description": "What to look up."},
		}, "required": []any{"query"}},
		Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
			var v struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(raw, &v); err != nil {
				return "", fmt.Errorf("arguments are not a JSON object of the schema: %v", err)
			}
			if v.Query = strings.TrimSpace(v.Query); v.Query == "" {
				return "", errors.New("query is required")
			}
			hits, err := a.lookup(ctx, v.Query)
			if err != nil {
				return "", err
			}
			if len(hits) == 0 {
				return "No documents found.", nil
			}
			docs := make([]map[string]any, 0, len(hits))
			for _, h := range hits {
				d := map[string]any{"content": h["content"]}
				if n, ok := h["name"]; ok && n != "" {
					d["name"] = n
				}
				if m, ok := h["meta_data"]; ok && m != nil {
					d["meta_data"] = m
				}
				docs = append(docs, d)
			}
			out, err := json.Marshal(docs)
			return string(out), err
		},
	}
}
