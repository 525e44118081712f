package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeA2A is a JSON-RPC A2A server: card serves the card (its %s is the
// server's URL); rpc answers each call (method, params, version header).
type fakeA2A struct {
	card string
	rpc  func(w http.ResponseWriter, r *http.Request, method string, params map[string]any)
	mu   sync.Mutex
	log  []string // method A2A-Version
}

func (f *fakeA2A) serve(t *testing.T) *httptest.Server {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/agent-card.json" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, f.card, srv.URL)
			return
		}
		var req struct {
			Method string         `json:"method"`
			Params map[string]any `json:"params"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		f.mu.Lock()
		f.log = append(f.log, req.Method+" "+r.Header.Get("A2A-Version"))
		f.mu.Unlock()
		f.rpc(w, r, req.Method, req.Params)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (f *fakeA2A) calls() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.log, ", ")
}

func rpcFrame(w http.ResponseWriter, result string) {
	writeSSE(w, "", `{"jsonrpc":"2.0","id":1,"result":`+result+`}`)
}

func newA2A(t *testing.T, url string) *Agent {
	t.Helper()
	a, err := New(Config{ID: "remote", A2A: url + "/.well-known/agent-card.json", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

const v1Card = `{"name":"fake","supportedInterfaces":[{"url":"%s/rpc","protocolBinding":"JSONRPC","protocolVersion":"1.0"}],"capabilities":{"streaming":true}}`
const v03Card = `{"name":"fake","url":"%s/rpc","protocolVersion":"0.3.0","preferredTransport":"JSONRPC","capabilities":{"streaming":true}}`

// TestA2AV1Stream: a v1.0 card gets SendStreamingMessage with A2A-Version
// 1.0 and a v1.0 message; artifact chunks become content deltas, a tool
// call's data parts tool events, the completed status the outcome.
func TestA2AV1Stream(t *testing.T) {
	var got map[string]any
	f := &fakeA2A{card: v1Card, rpc: func(w http.ResponseWriter, r *http.Request, method string, params map[string]any) {
		got = params
		sseHeaders(w)
		rpcFrame(w, `{"task":{"id":"t1","contextId":"sess-1","status":{"state":"TASK_STATE_SUBMITTED"}}}`)
		rpcFrame(w, `{"statusUpdate":{"taskId":"t1","contextId":"sess-1","status":{"state":"TASK_STATE_WORKING","message":{"messageId":"m","role":"ROLE_AGENT","parts":[{"text":"Calling"},{"data":{"type":"tool_call_started","tool_call_id":"c1","tool_name":"calc","tool_args":{"e":"1+1"}}}]}}}}`)
		rpcFrame(w, `{"statusUpdate":{"taskId":"t1","contextId":"sess-1","status":{"state":"TASK_STATE_WORKING","message":{"messageId":"m2","role":"ROLE_AGENT","parts":[{"data":{"type":"tool_call_completed","tool_call_id":"c1","tool_name":"calc","result":"2"}}]}}}}`)
		rpcFrame(w, `{"statusUpdate":{"taskId":"t1","contextId":"sess-1","status":{"state":"TASK_STATE_WORKING","message":{"messageId":"m3","role":"ROLE_AGENT","parts":[{"text":"thinking"}]}}}}`)
		rpcFrame(w, `{"artifactUpdate":{"taskId":"t1","contextId":"sess-1","artifact":{"artifactId":"a","parts":[{"text":"It is "}]}}}`)
		rpcFrame(w, `{"artifactUpdate":{"taskId":"t1","contextId":"sess-1","artifact":{"artifactId":"a","parts":[{"text":"2."}]},"append":true,"lastChunk":true}}`)
		rpcFrame(w, `{"statusUpdate":{"taskId":"t1","contextId":"sess-1","status":{"state":"TASK_STATE_COMPLETED"}}}`)
	}}
	srv := f.serve(t)
	r := &recorder{}
	out, err := newA2A(t, srv.URL).Execute(context.Background(), execution(r, "1+1?", nil))
	if err != nil {
		t.Fatal(err)
	}
	if c := f.calls(); c != "SendStreamingMessage 1.0" {
		t.Errorf("calls %q", c)
	}
	msg, _ := got["message"].(map[string]any)
	if msg["role"] != "ROLE_USER" || msg["contextId"] != "sess-1" || !strings.Contains(fmt.Sprint(msg["parts"]), "text:1+1?") {
		t.Errorf("message sent %v", msg)
	}
	if got, want := r.types(), "ToolCallStarted ToolCallCompleted CustomEvent RunContent RunContent"; got != want {
		t.Errorf("events %q, want %q", got, want)
	}
	if out.Content != "It is 2." || len(out.Tools) != 1 || out.Tools[0].Result != "2" {
		t.Errorf("outcome %+v", out)
	}
}

// TestA2AV03InputRequired: a v0.3 card gets message/stream (slash names,
// kind discriminators); input-required pauses the run with one reply
// requirement and the task in the paused state; continuing sends the
// reply on the same task and context.
func TestA2AV03InputRequired(t *testing.T) {
	var mu sync.Mutex
	var second map[string]any
	f := &fakeA2A{card: v03Card, rpc: func(w http.ResponseWriter, r *http.Request, method string, params map[string]any) {
		msg := params["message"].(map[string]any)
		sseHeaders(w)
		if msg["taskId"] == nil {
			rpcFrame(w, `{"kind":"task","id":"t9","contextId":"ctx-9","status":{"state":"submitted"}}`)
			rpcFrame(w, `{"kind":"status-update","taskId":"t9","contextId":"ctx-9","status":{"state":"input-required","message":{"kind":"message","messageId":"q","role":"agent","parts":[{"kind":"text","text":"Which city?"}]}},"final":true}`)
			return
		}
		mu.Lock()
		second = msg
		mu.Unlock()
		rpcFrame(w, `{"kind":"artifact-update","taskId":"t9","contextId":"ctx-9","artifact":{"artifactId":"a","parts":[{"kind":"text","text":"Sunny in Oslo."}]}}`)
		rpcFrame(w, `{"kind":"status-update","taskId":"t9","contextId":"ctx-9","status":{"state":"completed"},"final":true}`)
	}}
	srv := f.serve(t)
	a := newA2A(t, srv.URL)
	out, err := a.Execute(context.Background(), execution(&recorder{}, "weather?", nil))
	if err != nil {
		t.Fatal(err)
	}
	if out.Paused == nil || len(out.Paused.Pending) != 1 {
		t.Fatalf("outcome %+v", out)
	}
	p := out.Paused.Pending[0]
	if p.ToolName != InputToolName || !p.RequiresUserInput || len(p.UserInputSchema) != 1 || p.UserInputSchema[0].Description != "Which city?" {
		t.Errorf("pending %+v", p)
	}
	if s := string(out.Paused.Runnable); s != `{"protocol":"a2a","task_id":"t9","context_id":"ctx-9","pauses":1}` {
		t.Errorf("runnable %s", s)
	}
	resume := *out.Paused
	resume.Pending[0].UserInputSchema[0].Value = "Oslo"
	r := &recorder{}
	out, err = a.Execute(context.Background(), execution(r, "", &resume))
	if err != nil {
		t.Fatal(err)
	}
	if out.Content != "Sunny in Oslo." || out.Paused != nil {
		t.Errorf("continued outcome %+v", out)
	}
	if c := f.calls(); c != "message/stream 0.3, message/stream 0.3" {
		t.Errorf("calls %q", c)
	}
	mu.Lock()
	defer mu.Unlock()
	if second["taskId"] != "t9" || second["contextId"] != "ctx-9" || second["kind"] != "message" || !strings.Contains(fmt.Sprint(second["parts"]), "text:Oslo") {
		t.Errorf("reply sent %v", second)
	}
}

// TestA2ABlockingPoll: a card without streaming gets SendMessage; a task
// still working is polled with GetTask until it completes, its artifact
// the answer.
func TestA2ABlockingPoll(t *testing.T) {
	polls := 0
	f := &fakeA2A{card: strings.Replace(v1Card, `"streaming":true`, `"streaming":false`, 1),
		rpc: func(w http.ResponseWriter, r *http.Request, method string, params map[string]any) {
			w.Header().Set("Content-Type", "application/json")
			switch method {
			case "SendMessage":
				w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"task":{"id":"t2","contextId":"c","status":{"state":"TASK_STATE_WORKING"}}}}`))
			case "GetTask":
				if polls++; polls < 2 {
					w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"id":"t2","contextId":"c","status":{"state":"TASK_STATE_WORKING"}}}`))
					return
				}
				w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"id":"t2","contextId":"c","status":{"state":"TASK_STATE_COMPLETED"},"artifacts":[{"artifactId":"a","parts":[{"text":"done"}]}]}}`))
			}
		}}
	srv := f.serve(t)
	out, err := newA2A(t, srv.URL).Execute(context.Background(), execution(&recorder{}, "x", nil))
	if err != nil {
		t.Fatal(err)
	}
	if out.Content != "done" || f.calls() != "SendMessage 1.0, GetTask 1.0, GetTask 1.0" {
		t.Errorf("outcome %+v after %s", out, f.calls())
	}
}

// TestA2ACancel: cancelling the run sends CancelTask for the task.
func TestA2ACancel(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	cancelled := make(chan any, 1)
	f := &fakeA2A{card: v1Card, rpc: func(w http.ResponseWriter, r *http.Request, method string, params map[string]any) {
		if method == "CancelTask" {
			cancelled <- params["id"]
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"id":"t3","status":{"state":"TASK_STATE_CANCELED"}}}`))
			return
		}
		sseHeaders(w)
		rpcFrame(w, `{"task":{"id":"t3","contextId":"c","status":{"state":"TASK_STATE_WORKING"}}}`)
		rpcFrame(w, `{"artifactUpdate":{"taskId":"t3","artifact":{"artifactId":"a","parts":[{"text":"..."}]}}}`)
		hold(r, release)
	}}
	srv := f.serve(t)
	a := newA2A(t, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	r := &recorder{}
	go func() {
		for len(r.list()) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	var err error
	within(t, 3*time.Second, "a cancelled run", func() { _, err = a.Execute(ctx, execution(r, "go", nil)) })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
	select {
	case id := <-cancelled:
		if id != "t3" {
			t.Errorf("CancelTask id %v", id)
		}
	default:
		t.Fatal("no CancelTask")
	}
}

// TestA2AFailures: failed tasks, JSON-RPC errors, bad cards and garbage
// are remote_errors.
func TestA2AFailures(t *testing.T) {
	cases := []struct {
		name, card string
		rpc        func(w http.ResponseWriter)
		want       string
	}{
		{"failed", v1Card, func(w http.ResponseWriter) {
			sseHeaders(w)
			rpcFrame(w, `{"statusUpdate":{"taskId":"t","status":{"state":"TASK_STATE_FAILED","message":{"messageId":"m","role":"ROLE_AGENT","parts":[{"text":"quota exceeded"}]}}}}`)
		}, "failed: quota exceeded"},
		{"rpc error", v1Card, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}`))
		}, "error -32601: Method not found"},
		{"garbage item", v1Card, func(w http.ResponseWriter) {
			sseHeaders(w)
			rpcFrame(w, `{"hello":"world"}`)
		}, "not an A2A task"},
		{"not json-rpc", v1Card, func(w http.ResponseWriter) {
			sseHeaders(w)
			writeSSE(w, "", `[1,2]`)
		}, "not a JSON-RPC response"},
		{"bad card", `<html>%s</html>`, nil, "not an agent card"},
		{"no jsonrpc", `{"name":"x","supportedInterfaces":[{"url":"%s/grpc","protocolBinding":"GRPC","protocolVersion":"1.0"}]}`, nil, "no JSON-RPC interface"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeA2A{card: c.card, rpc: func(w http.ResponseWriter, r *http.Request, _ string, _ map[string]any) { c.rpc(w) }}
			srv := f.serve(t)
			_, err := newA2A(t, srv.URL).Execute(context.Background(), execution(&recorder{}, "x", nil))
			wantRemoteError(t, err, c.want)
		})
	}
}

// TestA2AEgress: the card's URL (the operator's) is dialled directly; an
// interface the card names on another host:port goes through Dial (the
// gateway's egress guard), whose refusal fails the run.
func TestA2AEgress(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the refused interface was reached")
	}))
	defer other.Close()
	f := &fakeA2A{card: `{"name":"x","supportedInterfaces":[{"url":"` + other.URL + `/rpc%.0s","protocolBinding":"JSONRPC","protocolVersion":"1.0"}],"capabilities":{"streaming":true}}`}
	srv := f.serve(t)
	var dialled []string
	a, err := New(Config{ID: "remote", A2A: srv.URL + "/.well-known/agent-card.json", Timeout: 2 * time.Second,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialled = append(dialled, addr)
			return nil, errors.New("egress: refused (loopback)")
		}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Execute(context.Background(), execution(&recorder{}, "x", nil))
	wantRemoteError(t, err, "egress: refused")
	if len(dialled) != 1 || dialled[0] != strings.TrimPrefix(other.URL, "http://") {
		t.Errorf("dialled through the guard: %v", dialled)
	}
}
