package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Shared by the a2a_*_test.go files.

// a2aAgents are the models and agents of the A2A gateways: assistant
// (a short reply in a few chunks), story (a long, slow reply: cancel and
// resubscribe have time), approval-demo (pauses for confirmation of
// calculator 6*7, like configs/agentgate.yaml's).
var a2aAgents = fmt.Sprintf(`
models:
  plain:
    provider: scripted
    model: plain-1
    chunks: 4
    chunk_delay: 5ms
    script:
      - reply: "You said: {{input}}. That is all I have to say."
  story:
    provider: scripted
    model: story-1
    chunks: 30
    chunk_delay: 40ms
    script:
      - reply: "%s"
  approval:
    provider: scripted
    model: approval-1
    chunks: 3
    script:
      - tool_calls:
          - name: calculator
            arguments: {expression: "6*7"}
        reply: "The calculator was approved and returned {{tool_result}}."
        rejected_reply: "Rejected. Note: {{note}}"
agents:
  - id: assistant
    name: Assistant
    description: Answers briefly.
    model: plain
  - id: story
    name: Story
    description: Tells a long story, slowly.
    model: story
  - id: approval-demo
    name: Approval demo
    description: Asks before it runs its calculator.
    model: approval
    tools:
      - name: calculator
        requires_confirmation: true
`, words(30))

// a2aAgentsLoopbackHooks is a2aAgents with webhooks allowed on 127.0.0.1
// (the tests' receivers; push to an internal address is refused by
// default).
var a2aAgentsLoopbackHooks = a2aAgents + "egress:\n  allow: [\"127.0.0.1\"]\n"

var a2aRPCID atomic.Int64

// a2aRPC is a JSON-RPC answer.
type a2aRPC struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	} `json:"error"`
}

// a2aTask is the part of a v1.0 Task the tests look at.
type a2aTask struct {
	ID        string `json:"id"`
	ContextID string `json:"contextId"`
	Status    struct {
		State   string          `json:"state"`
		Message json.RawMessage `json:"message"`
	} `json:"status"`
	Artifacts []struct {
		ArtifactID string `json:"artifactId"`
		Parts      []struct {
			Text string `json:"text"`
		} `json:"parts"`
	} `json:"artifacts"`
}

func (t a2aTask) text() string {
	var b strings.Builder
	for _, a := range t.Artifacts {
		for _, p := range a.Parts {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// a2aStreamItem is a v1.0 StreamResponse.
type a2aStreamItem struct {
	Task         *a2aTask `json:"task"`
	StatusUpdate *struct {
		TaskID string `json:"taskId"`
		Status struct {
			State string `json:"state"`
		} `json:"status"`
	} `json:"statusUpdate"`
	ArtifactUpdate *struct {
		TaskID   string `json:"taskId"`
		Artifact struct {
			Parts []struct {
				Text string `json:"text"`
			} `json:"parts"`
		} `json:"artifact"`
		Append    bool `json:"append"`
		LastChunk bool `json:"lastChunk"`
	} `json:"artifactUpdate"`
}

// a2aText rebuilds the response artifact from a stream's updates.
func a2aText(items []a2aStreamItem) string {
	var text string
	for _, it := range items {
		if u := it.ArtifactUpdate; u != nil {
			if !u.Append {
				text = ""
			}
			for _, p := range u.Artifact.Parts {
				text += p.Text
			}
		}
	}
	return text
}

// a2aLastState is the state of the last status update of a stream.
func a2aLastState(items []a2aStreamItem) string {
	state := ""
	for _, it := range items {
		if it.StatusUpdate != nil {
			state = it.StatusUpdate.Status.State
		}
	}
	return state
}

// a2aCall posts one JSON-RPC request (A2A-Version 1.0 for PascalCase
// methods, 0.3 for slash ones) to path as tok and returns the response and
// its body.
func a2aCall(t testing.TB, g *gateway, tok, path, method string, params any) (*http.Response, a2aRPC) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": a2aRPCID.Add(1), "method": method, "params": params})
	if err != nil {
		t.Fatal(err)
	}
	h := bearer(tok)
	if h == nil {
		h = map[string]string{}
	}
	h["A2A-Version"] = "1.0"
	if strings.Contains(method, "/") {
		h["A2A-Version"] = "0.3"
	}
	resp, b := callHeader(t, g, http.MethodPost, path, &reqBody{ct: "application/json", data: body}, h)
	var out a2aRPC
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: answer is not JSON-RPC (%d): %s", method, path, resp.StatusCode, truncateBody(b))
	}
	return resp, out
}

// a2aResult calls and decodes a successful result into v.
func a2aResult(t testing.TB, g *gateway, tok, path, method string, params, v any) {
	t.Helper()
	resp, out := a2aCall(t, g, tok, path, method, params)
	if resp.StatusCode != http.StatusOK || out.Error != nil {
		t.Fatalf("%s: status %d, error %+v", method, resp.StatusCode, out.Error)
	}
	if v != nil {
		decode(t, out.Result, v)
	}
}

// a2aMessage is a v1.0 SendMessageRequest with one text part.
func a2aMessage(text string, extra map[string]any) map[string]any {
	msg := map[string]any{"messageId": fmt.Sprintf("m-%d", a2aRPCID.Add(1)), "role": "ROLE_USER",
		"parts": []any{map[string]any{"text": text}}}
	for k, v := range extra {
		msg[k] = v
	}
	return map[string]any{"message": msg}
}

// a2aSSE opens an SSE answer (POST body to path, or GET when body is nil)
// and returns a reader of its data payloads; the stream is closed at
// cleanup or by cancel.
func a2aSSE(t testing.TB, g *gateway, tok, method, path string, body []byte) (next func() ([]byte, error), cancel func()) {
	t.Helper()
	ctx, stop := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(stop)
	var r io.Reader
	ct := ""
	if body != nil {
		r, ct = bytes.NewReader(body), "application/json"
	}
	h := bearer(tok)
	if h == nil {
		h = map[string]string{}
	}
	h["Accept"] = "text/event-stream"
	resp := g.do(t, ctx, method, path, r, ct, h)
	expectSSE(t, resp)
	t.Cleanup(func() { _ = resp.Body.Close() })
	br := bufio.NewReader(resp.Body)
	return func() ([]byte, error) {
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return nil, err
			}
			if data, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "data: "); ok {
				return []byte(data), nil
			}
		}
	}, func() { stop(); _ = resp.Body.Close() }
}

// a2aReadAll reads every payload of a stream until it ends.
func a2aReadAll(t testing.TB, next func() ([]byte, error)) [][]byte {
	t.Helper()
	var out [][]byte
	for {
		b, err := next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("stream failed after %d items: %v", len(out), err)
		}
		out = append(out, b)
	}
}

// a2aItems decodes REST (bare) or JSON-RPC (result-wrapped) payloads.
func a2aItems(t testing.TB, payloads [][]byte, rpc bool) []a2aStreamItem {
	t.Helper()
	items := make([]a2aStreamItem, 0, len(payloads))
	for _, p := range payloads {
		if rpc {
			var r a2aRPC
			decode(t, p, &r)
			if r.Error != nil {
				t.Fatalf("stream error: %+v", r.Error)
			}
			p = r.Result
		}
		var it a2aStreamItem
		decode(t, p, &it)
		items = append(items, it)
	}
	return items
}
