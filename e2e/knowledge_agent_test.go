package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/fakeembed"
)

// Agents answering from knowledge through the binary: a Markdown file is
// uploaded and ingested; an agent with search_knowledge calls
// search_knowledge_base and one with add_references is given the best
// chunk in its instructions; either way the chunks are the run's
// references, on RunCompleted and on the stored run.

func knowledgeAgentConfig(emb string) string {
	return `
models:
  brain:
    provider: scripted
    script:
      - match: "look up"
        tool_calls:
          - name: search_knowledge_base
            arguments: {query: "when does a colony swarm"}
        reply: "From the docs: {{tool_result}}"
      - reply: "context=[{{system}}]"
agents:
  - id: researcher
    model: brain
    knowledge: docs
  - id: grounded
    model: brain
    knowledge: docs
    search_knowledge: false
    add_references: true
    knowledge_max_results: 1
embedders:
  fake:
    base_url: ` + emb + `/v1
    api_key: test-key
    model: fake-embed
    dimensions: 64
knowledge:
  - id: docs
    embedder: fake
    chunker: markdown
    chunk_size: 200
`
}

type runReferences struct {
	Query      string           `json:"query"`
	References []map[string]any `json:"references"`
}

func TestAgentKnowledgeReferences(t *testing.T) {
	t.Parallel()
	emb := httptest.NewServer(&fakeembed.Server{Dims: 64, APIKey: "test-key"})
	t.Cleanup(emb.Close)
	g := startGateway(t, knowledgeAgentConfig(emb.URL))
	ctx := testCtx(t, 90*time.Second)

	var content struct {
		ID string `json:"id"`
	}
	decode(t, expectStatus(t, g.uploadFile(t, ctx, "/knowledge/content", map[string]string{"name": "bees"}, "bees.md", "text/markdown", []byte(kbMarkdown)), http.StatusAccepted), &content)
	g.waitContent(t, ctx, content.ID, "completed")

	// search_knowledge (the default with a knowledge base): the model's
	// tool call, streamed; RunCompleted carries the references.
	resp := g.postForm(t, ctx, "/agents/researcher/runs", url.Values{"message": {"please look up swarming"}, "stream": {"true"}})
	expectSSE(t, resp)
	var completed struct {
		Content    string          `json:"content"`
		RunID      string          `json:"run_id"`
		References []runReferences `json:"references"`
	}
	for _, f := range readFrames(t, resp.Body) {
		if f.Event == "RunCompleted" {
			decode(t, []byte(f.Data), &completed)
		}
	}
	if !strings.Contains(completed.Content, "late spring") {
		t.Fatalf("answer = %q, want the swarming chunk", completed.Content)
	}
	checkRefs(t, "RunCompleted", completed.References, "when does a colony swarm", content.ID)
	_, raw := g.getRun(t, ctx, "researcher", completed.RunID)
	var stored struct {
		References []runReferences `json:"references"`
	}
	decode(t, raw, &stored)
	checkRefs(t, "the stored run", stored.References, "when does a colony swarm", content.ID)

	// add_references: the best chunk for the message is in the
	// instructions; no tool is offered.
	var run struct {
		Content    string          `json:"content"`
		References []runReferences `json:"references"`
		Tools      []any           `json:"tools"`
	}
	msg := "why do bees swarm in late spring?"
	decode(t, expectStatus(t, g.postForm(t, ctx, "/agents/grounded/runs", url.Values{"message": {msg}, "stream": {"false"}}), 200), &run)
	if !strings.Contains(run.Content, "<references>") || !strings.Contains(run.Content, "queen leaves") || len(run.Tools) != 0 {
		t.Fatalf("grounded run = %+v", run)
	}
	checkRefs(t, "add_references", run.References, msg, content.ID)
	if n := len(run.References[0].References); n != 1 {
		t.Fatalf("knowledge_max_results 1 gave %d references", n)
	}
}

func checkRefs(t *testing.T, where string, refs []runReferences, query, contentID string) {
	t.Helper()
	if len(refs) != 1 || refs[0].Query != query || len(refs[0].References) == 0 {
		b, _ := json.Marshal(refs)
		t.Fatalf("%s references = %s, want one lookup of %q", where, b, query)
	}
	first := refs[0].References[0]
	if c, _ := first["content"].(string); !strings.Contains(c, "queen leaves") || first["content_id"] != contentID {
		t.Fatalf("%s: first reference = %v, want the swarming chunk of %s", where, first, contentID)
	}
}

// TestAgentKnowledgeFilters: a run's knowledge_filters (a dict, an
// expression, a list of expressions) restrict the agent's searches, both
// add_references and the search_knowledge_base tool; bad filters are 400.
func TestAgentKnowledgeFilters(t *testing.T) {
	t.Parallel()
	emb := httptest.NewServer(&fakeembed.Server{Dims: 64, APIKey: "test-key"})
	t.Cleanup(emb.Close)
	g := startGateway(t, knowledgeAgentConfig(emb.URL))
	ctx := testCtx(t, 90*time.Second)
	var content struct {
		ID string `json:"id"`
	}
	decode(t, expectStatus(t, g.uploadFile(t, ctx, "/knowledge/content", map[string]string{"name": "bees", "metadata": `{"topic":"bees"}`}, "bees.md", "text/markdown", []byte(kbMarkdown)), http.StatusAccepted), &content)
	g.waitContent(t, ctx, content.ID, "completed")

	msg := "why do bees swarm in late spring?"
	grounded := func(filters string) (refs []runReferences, answer string) {
		var run struct {
			Content    string          `json:"content"`
			References []runReferences `json:"references"`
		}
		decode(t, expectStatus(t, g.postForm(t, ctx, "/agents/grounded/runs", url.Values{"message": {msg}, "stream": {"false"}, "knowledge_filters": {filters}}), 200), &run)
		return run.References, run.Content
	}
	for _, f := range []string{`{"topic":"bees"}`, `{"op":"STARTSWITH","key":"topic","value":"be"}`, `[{"op":"EQ","key":"topic","value":"bees"},{"op":"NOT","condition":{"op":"EQ","key":"topic","value":"wasps"}}]`} {
		refs, _ := grounded(f)
		checkRefs(t, "add_references with "+f, refs, msg, content.ID)
	}
	for _, f := range []string{`{"topic":"wasps"}`, `{"op":"IN","key":"topic","values":["ants","wasps"]}`} {
		refs, answer := grounded(f)
		if len(refs) != 1 || len(refs[0].References) != 0 || strings.Contains(answer, "<references>") {
			t.Fatalf("add_references with %s: references %v, answer %q, want one lookup finding nothing", f, refs, answer)
		}
	}

	// The tool's search too (streamed run).
	resp := g.postForm(t, ctx, "/agents/researcher/runs", url.Values{"message": {"please look up swarming"}, "stream": {"true"},
		"knowledge_filters": {`[{"op":"EQ","key":"topic","value":"wasps"}]`}})
	expectSSE(t, resp)
	var completed struct {
		Content    string          `json:"content"`
		References []runReferences `json:"references"`
	}
	for _, f := range readFrames(t, resp.Body) {
		if f.Event == "RunCompleted" {
			decode(t, []byte(f.Data), &completed)
		}
	}
	if strings.Contains(completed.Content, "late spring") || len(completed.References) != 1 || len(completed.References[0].References) != 0 {
		t.Fatalf("filtered tool search: answer %q, references %v, want an empty lookup", completed.Content, completed.References)
	}

	for _, bad := range []string{`not json`, `[1]`, `{"op":"EQ","key":"topic"}`, `{"op":"AND","conditions":"x"}`} {
		body := expectStatus(t, g.postForm(t, ctx, "/agents/grounded/runs", url.Values{"message": {msg}, "stream": {"false"}, "knowledge_filters": {bad}}), http.StatusBadRequest)
		if !strings.Contains(string(body), "knowledge_filters") {
			t.Fatalf("knowledge_filters %s: body %s, want the problem named", bad, body)
		}
	}
}
