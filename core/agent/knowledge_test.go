package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model"
	"github.com/agentgate/agentgate/core/tool"
)

// fakeKB finds the chunks that contain a word of the query.
func fakeKB(chunks ...string) (agent.KnowledgeSearch, *[]string) {
	var queries []string
	return func(_ context.Context, query string, limit int, _ map[string]any) ([]map[string]any, error) {
		queries = append(queries, query)
		if query == "fail" {
			return nil, errors.New("index down")
		}
		var out []map[string]any
		for i, c := range chunks {
			for _, w := range strings.Fields(strings.ToLower(query)) {
				if strings.Contains(strings.ToLower(c), w) {
					out = append(out, map[string]any{"id": string(rune('a' + i)), "content": c, "name": "doc", "meta_data": map[string]any{"i": i}})
					break
				}
			}
			if len(out) == limit {
				break
			}
		}
		return out, nil
	}, &queries
}

func TestSearchKnowledgeToolRecordsReferences(t *testing.T) {
	search, queries := fakeKB("Paris is the capital of France", "Oslo is in Norway", "Paris has the Louvre")
	m := &turnModel{turns: []model.Response{
		{ToolCalls: []core.ToolCall{{ID: "1", Name: "search_knowledge_base", Arguments: json.RawMessage(`{"query":"paris"}`)}}},
		{ToolCalls: []core.ToolCall{{ID: "2", Name: "search_knowledge_base", Arguments: json.RawMessage(`{"query":""}`)}}},
		{Content: "Paris."},
	}}
	a, err := agent.New(agent.Config{ID: "a", Model: m, Knowledge: &agent.KnowledgeConfig{Search: search, SearchKnowledge: true, MaxResults: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Info().Tools; len(got) != 1 || got[0].Name != "search_knowledge_base" {
		t.Fatalf("tools = %+v", got)
	}
	var events []core.Event
	out, err := a.Execute(t.Context(), execution(&events))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.Tools[0].Result, "capital of France") || strings.Contains(out.Tools[0].Result, "Louvre") {
		t.Fatalf("tool result = %s (max_results 1)", out.Tools[0].Result)
	}
	if !out.Tools[1].ToolCallError {
		t.Fatalf("an empty query was searched: %+v", out.Tools[1])
	}
	if len(out.References) != 1 || out.References[0].Query != "paris" || len(out.References[0].References) != 1 ||
		out.References[0].References[0]["content"] != "Paris is the capital of France" {
		t.Fatalf("references = %+v", out.References)
	}
	if len(*queries) != 1 {
		t.Fatalf("queries = %v", *queries)
	}
}

func TestAddReferencesPutsChunksInTheInstructions(t *testing.T) {
	search, _ := fakeKB("Refunds take 14 days", "Shipping is free over 50 EUR")
	m := &recorder{}
	a, _ := agent.New(agent.Config{ID: "a", Model: m, Instructions: "Answer from the references.", Knowledge: &agent.KnowledgeConfig{Search: search, AddReferences: true}})
	var events []core.Event
	x := execution(&events)
	x.Message = "how long do refunds take?"
	out, err := a.Execute(t.Context(), x)
	if err != nil {
		t.Fatal(err)
	}
	sys := m.reqs[0].Messages[0].Content
	if !strings.HasPrefix(sys, "Answer from the references.") || !strings.Contains(sys, "<references>\n- Refunds take 14 days\n") || strings.Contains(sys, "Shipping") {
		t.Fatalf("system message = %q", sys)
	}
	if len(m.reqs[0].Tools) != 0 {
		t.Fatalf("add_references alone offered tools %v", m.reqs[0].Tools)
	}
	if len(out.References) != 1 || out.References[0].Query != x.Message {
		t.Fatalf("references = %+v", out.References)
	}
	// A failing search fails the run, saying so.
	x.Message = "fail"
	if _, err := a.Execute(t.Context(), x); err == nil || !strings.Contains(err.Error(), "knowledge base") {
		t.Fatalf("failing search: %v", err)
	}
}

func TestReferencesSurviveAPause(t *testing.T) {
	search, _ := fakeKB("Paris is the capital of France")
	confirm := echoTool("book")
	confirm.RequiresConfirmation = true
	m := &turnModel{turns: []model.Response{
		{ToolCalls: []core.ToolCall{{ID: "1", Name: "search_knowledge_base", Arguments: json.RawMessage(`{"query":"paris"}`)}}},
		{ToolCalls: []core.ToolCall{call("2", "book")}},
		{Content: "booked"},
	}}
	a, _ := agent.New(agent.Config{ID: "a", Model: m, Tools: []*tool.Tool{confirm}, Knowledge: &agent.KnowledgeConfig{Search: search, SearchKnowledge: true}})
	var events []core.Event
	out, err := a.Execute(t.Context(), execution(&events))
	if err != nil || out.Paused == nil || len(out.Paused.References) != 1 {
		t.Fatalf("paused outcome = %+v, %v", out, err)
	}
	yes := true
	p := *out.Paused
	p.Pending[0].Confirmed = &yes
	x := execution(&events)
	x.Resume = &p
	out, err = a.Execute(t.Context(), x)
	if err != nil || out.Content != "booked" || len(out.References) != 1 || out.References[0].Query != "paris" {
		t.Fatalf("continued outcome = %+v, %v", out, err)
	}
}
