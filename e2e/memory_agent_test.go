package e2e

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Agents with memory through the binary: a run that tells a fact is
// followed, on its stream, by MemoryUpdateStarted and MemoryUpdateCompleted
// carrying the memory a (scripted) memory manager extracted; /memories
// lists it; the next run is given it; another user is given nothing; the
// agentic tools write the caller's memories.

// memoryAgentConfig: the scripted model answers the memory manager (told
// by its instructions) with an add operation of the user's message, and
// otherwise echoes the system messages it was given.
const memoryAgentConfig = `
models:
  brain:
    provider: scripted
    script:
      - system: "You summarise conversations"
        reply: "Summary: {{input}}"
      - system: "You are the memory manager"
        reply: '[{"op": "add", "memory": {{input_json}}, "topics": ["facts"]}]'
      - match: "note this"
        tool_calls:
          - name: add_memory
            arguments: {memory: "Prefers window seats", topics: [travel]}
        reply: "noted: {{tool_result}}"
      - reply: "context=[{{system}}]"
agents:
  - id: remembering
    model: brain
    instructions: "Be helpful."
    session_summaries: true
    memory:
      update_on_run: true
  - id: agentic
    model: brain
    memory:
      agentic: true
`

func TestAgentMemoryThroughTheBinary(t *testing.T) {
	t.Parallel()
	g := startGateway(t, memoryAgentConfig)
	ctx := testCtx(t, 60*time.Second)

	resp := g.postForm(t, ctx, "/agents/remembering/runs", url.Values{"message": {"I am vegetarian"}, "stream": {"true"}, "user_id": {"ann"}})
	expectSSE(t, resp)
	frames := readFrames(t, resp.Body)
	got := types(frames)
	var names []string
	for _, f := range frames {
		names = append(names, f.Event)
	}
	if !strings.HasSuffix(strings.Join(names, ","), "RunContentCompleted,MemoryUpdateStarted,MemoryUpdateCompleted,SessionSummaryStarted,SessionSummaryCompleted,RunCompleted") {
		t.Fatalf("stream events = %v, want MemoryUpdateStarted, MemoryUpdateCompleted before RunCompleted", got)
	}
	var completed struct {
		Memories []struct {
			ID     string   `json:"memory_id"`
			Memory string   `json:"memory"`
			Topics []string `json:"topics"`
			UserID string   `json:"user_id"`
		} `json:"memories"`
	}
	for _, f := range frames {
		if f.Event == "MemoryUpdateCompleted" {
			decode(t, []byte(f.Data), &completed)
		}
	}
	var sum struct {
		SessionID      string `json:"session_id"`
		SessionSummary struct {
			Summary string `json:"summary"`
		} `json:"session_summary"`
	}
	decode(t, []byte(frames[len(frames)-2].Data), &sum)
	wantSum := "Summary: user: I am vegetarian\nassistant: context=[Be helpful.]"
	if sum.SessionSummary.Summary != wantSum {
		t.Fatalf("SessionSummaryCompleted = %s", frames[len(frames)-2].Data)
	}
	var sess struct {
		SessionSummary struct {
			Summary string `json:"summary"`
		} `json:"session_summary"`
	}
	decode(t, expectStatus(t, g.get(t, ctx, "/sessions/"+sum.SessionID), 200), &sess)
	if sess.SessionSummary.Summary != wantSum {
		t.Fatalf("GET /sessions/%s session_summary = %+v", sum.SessionID, sess.SessionSummary)
	}
	if len(completed.Memories) != 1 || completed.Memories[0].Memory != "I am vegetarian" || completed.Memories[0].UserID != "ann" {
		t.Fatalf("MemoryUpdateCompleted memories = %+v", completed.Memories)
	}

	var page struct {
		Data []struct {
			ID      string `json:"memory_id"`
			Memory  string `json:"memory"`
			AgentID string `json:"agent_id"`
		} `json:"data"`
	}
	decode(t, expectStatus(t, g.get(t, ctx, "/memories?user_id=ann"), 200), &page)
	if len(page.Data) != 1 || page.Data[0].Memory != "I am vegetarian" || page.Data[0].AgentID != "remembering" || page.Data[0].ID != completed.Memories[0].ID {
		t.Fatalf("/memories = %+v", page.Data)
	}

	// The next run of ann is given it; bob's is not.
	content := func(user, msg string) string {
		t.Helper()
		var out struct {
			Content string `json:"content"`
		}
		decode(t, expectStatus(t, g.postForm(t, ctx, "/agents/remembering/runs", url.Values{"message": {msg}, "stream": {"false"}, "user_id": {user}}), 200), &out)
		return out.Content
	}
	if c := content("ann", "what should I cook?"); !strings.Contains(c, "I am vegetarian") || !strings.Contains(c, "Be helpful.") {
		t.Fatalf("ann's second run was given %q", c)
	}
	if c := content("bob", "what should I cook?"); strings.Contains(c, "vegetarian") {
		t.Fatalf("bob was given ann's memory: %q", c)
	}

	// Agentic: the model's add_memory writes the caller's memory.
	resp = g.postForm(t, ctx, "/agents/agentic/runs", url.Values{"message": {"note this"}, "stream": {"false"}, "user_id": {"cleo"}})
	var run struct {
		Content string `json:"content"`
		Status  string `json:"status"`
	}
	decode(t, expectStatus(t, resp, 200), &run)
	if !strings.HasPrefix(run.Content, "noted: Memory added: ") {
		t.Fatalf("agentic run = %+v", run)
	}
	var cleo []map[string]any
	var p2 struct {
		Data json.RawMessage `json:"data"`
	}
	decode(t, expectStatus(t, g.get(t, ctx, "/memories?user_id=cleo"), 200), &p2)
	decode(t, p2.Data, &cleo)
	if len(cleo) != 1 || cleo[0]["memory"] != "Prefers window seats" || cleo[0]["agent_id"] != "agentic" {
		t.Fatalf("cleo's memories = %v", cleo)
	}
}
