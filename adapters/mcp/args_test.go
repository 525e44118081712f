package mcp_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	mcpadapter "github.com/agentgate/agentgate/adapters/mcp"
	"github.com/agentgate/agentgate/core"
)

var argSeeds = []struct {
	tool, args string
}{
	{"run_agent", `{"agent_id":"assistant","message":"hi"}`},
	{"run_agent", `{"agent_id":"assistant","message":"hi","session_id":"s1","user_id":"u1"}`},
	{"run_agent", `{"agent_id":"","message":"hi"}`},
	{"run_agent", `{"agent_id":"a","message":42}`},
	{"run_agent", `{"agent_id":"a","message":"x","extra":true}`},
	{"run_agent", `{"agent_id":"a","message":"x"} {}`},
	{"run_agent", `[1,2]`},
	{"run_agent", `null`},
	{"run_agent", ``},
	{"run_agent", `{"agent_id":"a","message":"x"`},
	{"ask_assistant", `{"message":"hello"}`},
	{"ask_", `{"message":"hello"}`},
	{"continue_run", `{"run_id":"r","tools":[{"tool_call_id":"c1","confirmed":true}]}`},
	{"continue_run", `{"run_id":"r","tools":[{"tool_call_id":"c1","confirmed":false,"confirmation_note":"no"}]}`},
	{"continue_run", `{"run_id":"r","tools":[{"tool_call_id":"c1"},{"tool_call_id":"c1"}]}`},
	{"continue_run", `{"run_id":"r","tools":null}`},
	{"continue_run", `{"run_id":"r","tools":[{"confirmed":"yes"}]}`},
	{"cancel_run", `{"run_id":"r","agent_id":"a","session_id":"s"}`},
	{"get_sessions", `{"limit":5,"page":2,"sort_by":"updated_at","sort_order":"asc","type":"agent"}`},
	{"get_sessions", `{"limit":0}`},
	{"get_sessions", `{"limit":1e400}`},
	{"get_sessions", `{"limit":1.5}`},
	{"get_session_runs", `{"session_id":"s"}`},
	{"get_config", `{}`},
	{"get_config", `{"x":1}`},
	{"nope", `{}`},
}

// FuzzMCPArgs fuzzes the tool-argument decoder (untrusted input): it never
// panics; a refusal is a CodeInvalid (or, for an unknown tool, CodeNotFound)
// error naming the tool; an accepted value re-encodes to arguments that
// decode to the same value, with its required fields set.
func FuzzMCPArgs(f *testing.F) {
	for _, s := range argSeeds {
		f.Add(s.tool, []byte(s.args))
	}
	f.Fuzz(func(t *testing.T, tool string, raw []byte) {
		v, err := mcpadapter.DecodeArgs(tool, raw)
		if err != nil {
			code := core.CodeOf(err)
			if code != core.CodeInvalid && code != core.CodeNotFound {
				t.Fatalf("DecodeArgs(%q, %q): code %s: %v", tool, raw, code, err)
			}
			if code == core.CodeInvalid && !strings.HasPrefix(core.MessageOf(err), tool+": ") {
				t.Fatalf("DecodeArgs(%q, %q): message does not name the tool: %v", tool, raw, err)
			}
			return
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", v, err)
		}
		again, err := mcpadapter.DecodeArgs(tool, b)
		if err != nil {
			t.Fatalf("re-encoded arguments %s refused: %v", b, err)
		}
		if !reflect.DeepEqual(v, again) {
			t.Fatalf("round trip changed the arguments:\n %#v\n %#v", v, again)
		}
		switch a := v.(type) {
		case *mcpadapter.RunArgs:
			if strings.TrimSpace(a.AgentID) == "" || strings.TrimSpace(a.Message) == "" {
				t.Fatalf("accepted without agent_id or message: %q", raw)
			}
		case *mcpadapter.ContinueArgs:
			if strings.TrimSpace(a.RunID) == "" { // (tools may be absent: resolved approvals decide)
				t.Fatalf("accepted without run_id: %q", raw)
			}
			for _, d := range a.Tools {
				if strings.TrimSpace(d.ToolCallID) == "" {
					t.Fatalf("accepted a decision without tool_call_id: %q", raw)
				}
			}
		case *mcpadapter.SessionsArgs:
			if a.Limit != nil && (*a.Limit < 1 || *a.Limit > 1000) {
				t.Fatalf("accepted limit %d", *a.Limit)
			}
		}
	})
}

// TestMCPArgs checks the decoder's answers on the seeds.
func TestMCPArgs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		tool, args string
		want       any    // on success
		err        string // substring of the error
	}{
		{"run_agent", `{"agent_id":"a","message":"hi","session_id":"s"}`, &mcpadapter.RunArgs{AgentID: "a", Message: "hi", SessionID: "s"}, ""},
		{"run_agent", `{"agent_id":"a"}`, nil, `argument "message" is required`},
		{"run_agent", `{"agent_id":"a","message":"x","extra":1}`, nil, `unknown argument "extra"`},
		{"run_agent", `{"agent_id":"a","message":"x"} {}`, nil, "one JSON object"},
		{"run_agent", `"x"`, nil, "must be a JSON object"},
		{"run_agent", `{"agent_id":"a","message":"x"`, nil, "not valid JSON"},
		{"ask_x", `null`, nil, `argument "message" is required`},
		{"continue_run", `{"run_id":"r","tools":[{"tool_call_id":"c","confirmed":true}]}`,
			&mcpadapter.ContinueArgs{RunID: "r", Tools: []mcpadapter.ToolDecision{{ToolCallID: "c", Confirmed: ptr(true)}}}, ""},
		{"continue_run", `{"run_id":"r"}`, &mcpadapter.ContinueArgs{RunID: "r"}, ""}, // decisions from resolved approvals
		{"continue_run", `{"run_id":"r","tools":[{"tool_call_id":"c","confirmed":"yes"}]}`, nil, "must be true or false"},
		{"get_sessions", `{"limit":0}`, nil, `"limit" must be between 1 and 1000`},
		{"get_sessions", `{"sort_order":"up"}`, nil, `"sort_order" must be asc or desc`},
		{"get_config", ``, &mcpadapter.ConfigArgs{}, ""},
		{"nope", `{}`, nil, `unknown tool "nope"`},
	} {
		got, err := mcpadapter.DecodeArgs(c.tool, []byte(c.args))
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("DecodeArgs(%s, %s) = %v, %v; want an error containing %q", c.tool, c.args, got, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("DecodeArgs(%s, %s): %v", c.tool, c.args, err)
		case c.err == "" && !reflect.DeepEqual(got, c.want):
			t.Errorf("DecodeArgs(%s, %s) = %#v, want %#v", c.tool, c.args, got, c.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
