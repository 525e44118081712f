package rest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// The team and workflow run routes, served by the same handlers as the
// agents', tested with small runnables on the engine: relayTeam runs its
// members one after the other through x.RunChild (a member that pauses
// pauses the team); stepFlow is a workflow that runs an agent step and,
// when gated, pauses on a synthetic tool call named after its step
// requirement, as the workflow runnable does.

// relayTeam runs each member on the message, in order.
type relayTeam struct {
	id      string
	members []string
}

type relayState struct {
	Done   []string `json:"done"`   // answers so far
	Next   int      `json:"next"`   // the member to run after the paused one
	Member string   `json:"member"` // the paused member
	RunID  string   `json:"run_id"` // its run
}

func (r *relayTeam) Info() core.AgentInfo {
	i := core.AgentInfo{ID: r.id, Name: "Relay " + r.id, Kind: core.KindTeam, Mode: "coordinate", Description: "runs its members in turn"}
	for _, m := range r.members {
		i.Members = append(i.Members, core.AgentInfo{ID: m})
	}
	return i
}

func (r *relayTeam) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	var st relayState
	if x.Resume != nil {
		if err := json.Unmarshal(x.Resume.Runnable, &st); err != nil {
			return nil, err
		}
		child, err := x.RunChild(ctx, core.ChildParams{ID: st.Member, RunID: st.RunID, Decisions: x.Resume.Pending})
		if err != nil {
			return nil, err
		}
		if out := r.after(child, &st); out != nil {
			return out, nil
		}
	}
	for st.Next < len(r.members) {
		m := r.members[st.Next]
		st.Next++
		child, err := x.RunChild(ctx, core.ChildParams{ID: m, Message: x.Message})
		if err != nil {
			return nil, err
		}
		if out := r.after(child, &st); out != nil {
			return out, nil
		}
	}
	content := strings.Join(st.Done, " | ")
	return &core.Outcome{Content: content, SessionState: map[string]any{"members": float64(len(st.Done))},
		Messages: []core.Message{{Role: "user", Content: x.Run.Input.InputContent}, {Role: "assistant", Content: content}}}, nil
}

// after records a member's answer, or returns the team's pause.
func (r *relayTeam) after(child *core.Run, st *relayState) *core.Outcome {
	if child.Status != core.RunPaused {
		st.Done = append(st.Done, child.AgentID+": "+child.Content)
		return nil
	}
	st.Member, st.RunID = child.AgentID, child.RunID
	b, _ := json.Marshal(st)
	reqs := make([]core.RunRequirement, len(child.Requirements))
	for i, q := range child.Requirements {
		q.MemberAgentID, q.MemberAgentName, q.MemberRunID = child.AgentID, child.AgentName, child.RunID
		reqs[i] = q
	}
	return &core.Outcome{Paused: &core.PausedState{Pending: child.Paused.Pending, Runnable: b}, Requirements: reqs}
}

// stepFlow is a workflow of two steps: "research" runs the agent, and
// "publish", when gated, waits for a person's confirmation and a channel.
type stepFlow struct {
	id, agent string
	gated     bool
}

// publishRequirement is the id of the gated step's requirement.
const publishRequirement = "req-publish"

func (w *stepFlow) Info() core.AgentInfo {
	return core.AgentInfo{ID: w.id, Name: "Flow " + w.id, Kind: core.KindWorkflow, Description: "research, then publish",
		Steps: []core.StepInfo{
			{Name: "research", StepType: "step", Executor: &core.Ref{Kind: core.KindAgent, ID: w.agent}},
			{Name: "publish", StepType: "step", Description: "a function"},
		}}
}

func (w *stepFlow) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	zero, one := 0, 1
	if x.Resume != nil {
		var research string
		if err := json.Unmarshal(x.Resume.Runnable, &research); err != nil {
			return nil, err
		}
		p := x.Resume.Pending[0]
		out := "not published"
		if p.Confirmed != nil && *p.Confirmed {
			out = "published to " + p.UserInputSchema[0].Value.(string)
		}
		if err := x.Emit(ctx, core.Event{Event: core.EventStepCompleted, StepName: "publish", StepIndex: &one, Content: out}); err != nil {
			return nil, err
		}
		return w.done(research, out), nil
	}
	if err := x.Emit(ctx, core.Event{Event: core.EventStepStarted, StepName: "research", StepIndex: &zero}); err != nil {
		return nil, err
	}
	child, err := x.RunChild(ctx, core.ChildParams{Kind: core.KindAgent, ID: w.agent, Message: x.Message, StepName: "research", StepIndex: &zero})
	if err != nil {
		return nil, err
	}
	if err := x.Emit(ctx, core.Event{Event: core.EventStepCompleted, StepName: "research", StepIndex: &zero, Content: child.Content}); err != nil {
		return nil, err
	}
	if !w.gated {
		return w.done(child.Content, "skipped"), nil
	}
	if err := x.Emit(ctx, core.Event{Event: core.EventStepStarted, StepName: "publish", StepIndex: &one}); err != nil {
		return nil, err
	}
	state, _ := json.Marshal(child.Content)
	return &core.Outcome{Paused: &core.PausedState{Runnable: state, Pending: []core.ToolExecution{{
		ToolCallID: publishRequirement, ToolName: "publish", RequiresConfirmation: true, RequiresUserInput: true,
		UserInputSchema: []core.UserInputField{{Name: "channel", FieldType: "str"}},
	}}}}, nil
}

func (w *stepFlow) done(research, publish string) *core.Outcome {
	results, _ := json.Marshal([]map[string]string{{"step_name": "research", "content": research}, {"step_name": "publish", "content": publish}})
	return &core.Outcome{Content: research + " / " + publish, StepResults: results}
}

// runnableServer serves the REST adapter in jwt mode over an engine with
// two agents (alpha answers, hitl asks to confirm a calculator call), the
// teams relay (alpha, beta) and gate (alpha, hitl), and the workflows flow
// and gated.
func runnableServer(t *testing.T) (string, *core.Engine) {
	t.Helper()
	mk := func(id string, cfg scripted.Config, tools ...*tool.Tool) core.Agent {
		a, err := agent.New(agent.Config{ID: id, Model: scripted.New(cfg), Tools: tools})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	confirm := tool.Calculator()
	confirm.RequiresConfirmation = true
	env := enginetest.New(t, enginetest.Options{},
		mk("alpha", scripted.Config{Rules: []scripted.Rule{{Reply: "from alpha"}}}),
		mk("beta", scripted.Config{Rules: []scripted.Rule{{Reply: "from beta"}}}),
		mk("hitl", scripted.Config{Rules: []scripted.Rule{{
			ToolCalls: []scripted.Call{{Name: "calculator", Arguments: map[string]any{"expression": "6*7"}}},
			Reply:     "result {{tool_result}}", RejectedReply: "rejected: {{note}}",
		}}}, confirm),
		mk("slow", scripted.Config{Chunks: 100, ChunkDelay: 50 * time.Millisecond, Rules: []scripted.Rule{{Reply: strings.Repeat("slow ", 100)}}}),
		&relayTeam{id: "relay", members: []string{"alpha", "beta"}},
		&relayTeam{id: "slowteam", members: []string{"slow"}},
		&relayTeam{id: "gate", members: []string{"alpha", "hitl"}},
		&stepFlow{id: "flow", agent: "alpha"},
		&stepFlow{id: "gated", agent: "beta", gated: true},
	)
	a, err := auth.New(auth.Config{Mode: auth.ModeJWT, JWT: auth.JWTConfig{Algorithm: auth.AlgHS256, Key: authzTestSecret}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptransport.New(httptransport.Config{Auth: a})
	pol := auth.NewPolicy()
	Register(srv, env.Engine, Config{Policy: pol, Databases: []DatabaseInfo{{ID: "db", Kind: "sqlite"}}})
	if err := pol.CheckCoverage(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String(), env.Engine
}

// client calls a runnableServer with a token for scopes.
type client struct {
	t    *testing.T
	base string
	tok  string
}

func newClient(t *testing.T, base string, scopes ...string) *client {
	t.Helper()
	return newUserClient(t, base, "alice", scopes...)
}

// newUserClient is newClient for the user sub.
func newUserClient(t *testing.T, base, sub string, scopes ...string) *client {
	t.Helper()
	tok, err := auth.MintJWT(auth.MintConfig{Algorithm: auth.AlgHS256}, authzTestSecret, sub, scopes, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, base: base, tok: tok}
}

// do sends a request (form: url-encoded body) and returns the status and body.
func (c *client) do(method, path string, form url.Values) (int, []byte) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Authorization", "Bearer "+c.tok)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// json sends a request, expects the status and decodes the body into v.
func (c *client) json(method, path string, form url.Values, want int, v any) {
	c.t.Helper()
	status, b := c.do(method, path, form)
	if status != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// events sends a streaming request and returns its SSE events.
func (c *client) events(method, path string, form url.Values) []core.Event {
	c.t.Helper()
	status, b := c.do(method, path, form)
	if status != http.StatusOK {
		c.t.Fatalf("%s %s: status %d: %s", method, path, status, b)
	}
	return parseSSE(c.t, b)
}

func parseSSE(t *testing.T, b []byte) []core.Event {
	t.Helper()
	var out []core.Event
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var ev core.Event
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatalf("SSE data %q: %v", data, err)
			}
			out = append(out, ev)
		}
	}
	return out
}

func eventTypes(evs []core.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, string(ev.Event))
	}
	return out
}
