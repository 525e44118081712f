package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// agnoStream reads stream payloads the way agno 2.9.0's A2AClient does
// (libs/agno/agno/client/a2a/client.py _parse_stream_event, and
// map_stream_events_to_run_events in utils.py): each payload's "result"
// is classified by its "kind"; a "task" or a status-update with final
// true ends the stream; the text of artifact-updates and messages before
// that is the answer. It returns the answer, the final frame's kind and
// state, and the task id the frames named.
func agnoStream(t *testing.T, payloads [][]byte) (content, finalKind, finalState, taskID string) {
	t.Helper()
	for _, p := range payloads {
		var env struct {
			Result struct {
				Kind     string                 `json:"kind"`
				ID       string                 `json:"id"`
				TaskID   string                 `json:"taskId"`
				Final    bool                   `json:"final"`
				Status   struct{ State string } `json:"status"`
				Artifact struct {
					Parts []struct{ Text string } `json:"parts"`
				} `json:"artifact"`
			} `json:"result"`
		}
		decode(t, p, &env)
		r := env.Result
		if r.TaskID != "" {
			taskID = r.TaskID
		}
		switch {
		case r.Kind == "task":
			return content, r.Kind, r.Status.State, r.ID
		case r.Kind == "status-update" && r.Final:
			return content, r.Kind, r.Status.State, taskID
		case r.Kind == "artifact-update":
			for _, part := range r.Artifact.Parts {
				content += part.Text
			}
		}
	}
	return content, "", "", taskID
}

// agnoRequest is the JSON-RPC request agno's A2AClient builds: v0.3 method
// names, the message without "kind", the id the message id.
func agnoRequest(method, id, text string) []byte {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method, "id": id, "params": map[string]any{
		"message": map[string]any{"messageId": id, "role": "user", "parts": []any{map[string]any{"kind": "text", "text": text}},
			"metadata": map[string]any{"userId": "u1"}}}})
	return b
}

// TestA2AAgnoClient serves agno's RemoteAgent(protocol="a2a") with base
// URL /a2a/agents/{id}, in its REST mode (JSON-RPC posted to
// {url}/v1/message:send and :stream, the card at
// {url}/.well-known/agent-card.json) and its JSON-RPC mode (everything at
// {url}/, the card by GET there).
func TestA2AAgnoClient(t *testing.T) {
	t.Parallel()
	g := startGateway(t, a2aAgents)
	base := "/a2a/agents/assistant"
	const want = "You said: hi there. That is all I have to say."
	ctx := testCtx(t, 40*time.Second)

	for _, mode := range []struct{ name, card, send, stream string }{
		{"rest", base + "/.well-known/agent-card.json", base + "/v1/message:send", base + "/v1/message:stream"},
		{"json-rpc", base + "/", base + "/", base + "/"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			var card struct {
				Name        string `json:"name"`
				Description string `json:"description"`
			}
			decode(t, expectStatus(t, g.get(t, ctx, mode.card), http.StatusOK), &card)
			if card.Name != "Assistant" || card.Description == "" {
				t.Errorf("card at %s: %+v", mode.card, card)
			}

			// send_message: the result is the task; agno reads the answer
			// from the agent messages of its history.
			var sent struct {
				Result struct {
					ID        string `json:"id"`
					ContextID string `json:"contextId"`
					Status    struct{ State string }
					History   []struct {
						Role  string
						Parts []struct{ Text string }
					}
				} `json:"result"`
			}
			decode(t, expectStatus(t, g.do(t, ctx, http.MethodPost, mode.send, strings.NewReader(string(agnoRequest("message/send", "m-send", "hi there"))),
				"application/json", nil), http.StatusOK), &sent)
			var text string
			for _, m := range sent.Result.History {
				if m.Role == "agent" {
					for _, p := range m.Parts {
						text += p.Text
					}
				}
			}
			if sent.Result.ID == "" || sent.Result.ContextID == "" || sent.Result.Status.State != "completed" || text != want {
				t.Errorf("message/send at %s: %+v (agent text %q)", mode.send, sent.Result, text)
			}

			// stream_message: the whole answer before the end agno sees.
			next, _ := a2aSSE(t, g, "", http.MethodPost, mode.stream, agnoRequest("message/stream", "m-stream", "hi there"))
			content, kind, state, taskID := agnoStream(t, a2aReadAll(t, next))
			if content != want || kind != "status-update" || state != "completed" || taskID == "" {
				t.Errorf("message/stream at %s as agno reads it: content %q, ended by %q %q (task %q); want %q, ended by the completed status",
					mode.stream, content, kind, state, taskID, want)
			}
		})
	}
}
