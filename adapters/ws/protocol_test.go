package ws

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
)

func TestWSParseClientFrame(t *testing.T) {
	t.Parallel()
	yes := true
	cases := []struct {
		in   string
		want ClientFrame
	}{
		{`{"action":"ping"}`, ClientFrame{Action: ActionPing, LastEventIndex: -1}},
		{` {"action":"ping","id":"a"} `, ClientFrame{Action: ActionPing, ID: json.RawMessage(`"a"`), LastEventIndex: -1}},
		{`{"id":-12,"action":"ping"}`, ClientFrame{Action: ActionPing, ID: json.RawMessage(`-12`), LastEventIndex: -1}},
		{`{"action":"authenticate","token":" t0k "}`, ClientFrame{Action: ActionAuthenticate, Token: "t0k", LastEventIndex: -1}},
		{`{"action":"start","agent_id":"a","message":" hi ","session_id":"s","user_id":"u","background":true}`,
			ClientFrame{Action: ActionStart, AgentID: "a", Message: " hi ", SessionID: "s", UserID: "u", Background: true, LastEventIndex: -1}},
		{`{"action":"subscribe","run_id":"r","last_event_index":7,"agent_id":"a","session_id":"s"}`,
			ClientFrame{Action: ActionSubscribe, RunID: "r", LastEventIndex: 7, AgentID: "a", SessionID: "s"}},
		{`{"action":"subscribe","run_id":"r","last_event_index":null}`, ClientFrame{Action: ActionSubscribe, RunID: "r", LastEventIndex: -1}},
		{`{"action":"continue","run_id":"r","tools":[{"tool_call_id":"c","tool_name":"t","confirmed":true}]}`,
			ClientFrame{Action: ActionContinue, RunID: "r", LastEventIndex: -1,
				Tools: []core.ToolExecution{{ToolCallID: "c", ToolName: "t", Confirmed: &yes}}}},
		{`{"action":"cancel","run_id":"r"}`, ClientFrame{Action: ActionCancel, RunID: "r", LastEventIndex: -1}},
	}
	for _, c := range cases {
		got, err := ParseClientFrame([]byte(c.in))
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.in, got, c.want)
		}
	}

	bad := map[string]string{
		``:                                      "JSON object",
		`"ping"`:                                "JSON object",
		"{\"action\":\"ping\",\"id\":\"\xff\"}": "UTF-8",
		`{"action":"ping","id":"` + strings.Repeat("x", 200) + `"}`:    "longer than",
		`{"action":"ping","id":true}`:                                  "string or an integer",
		`{"action":"ping","id":1e3}`:                                   "string or an integer",
		`{"action":"PING"}`:                                            "unknown action",
		`{"action":"start","agent_id":"a","message":"m","run_id":"r"}`: "does not take run_id",
		`{"action":"subscribe","run_id":"r","last_event_index":"3"}`:   "last_event_index must be an integer",
		`{"action":"subscribe","run_id":"r","last_event_index":1e20}`:  "integer >= -1",
		`{"action":"continue","run_id":"r","tools":{}}`:                "tools must be",
		`{"action":"cancel","run_id":"  "}`:                            "needs a run_id",
		`{"action":"ping"}{"action":"ping"}`:                           "trailing data",
	}
	for in, want := range bad {
		_, err := ParseClientFrame([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", in, err, want)
			continue
		}
		if CodeOf(err) != CodeInvalid {
			t.Errorf("%q: code %s, want invalid", in, CodeOf(err))
		}
	}
}

// An error frame echoes the id when it could be read, even from a frame
// that failed to parse.
func TestWSParseClientFrameSalvagesID(t *testing.T) {
	t.Parallel()
	f, err := ParseClientFrame([]byte(`{"action":"start","id":"q1","agent_id":"a","message":"m","colour":"red"}`))
	if err == nil || string(f.ID) != `"q1"` || f.Action != ActionStart {
		t.Fatalf("got %+v, %v", f, err)
	}
	got := string(RenderError(f.ID, f.Action, "", err))
	want := `{"event":"error","id":"q1","action":"start","code":"invalid","detail":"malformed frame: unknown field \"colour\""}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestWSCodeOf(t *testing.T) {
	t.Parallel()
	cases := map[error]string{
		core.Errorf(core.CodeInvalid, "x"):         CodeInvalid,
		core.Errorf(core.CodeNotFound, "x"):        CodeNotFound,
		core.Errorf(core.CodeConflict, "x"):        CodeConflict,
		&core.GoneError{RunID: "r", FirstIndex: 3}: CodeGone,
		core.Errorf(core.CodeUnauthorized, "x"):    CodeUnauthorized,
		core.Errorf(core.CodeForbidden, "x"):       CodeForbidden,
		core.Errorf(core.CodeUnavailable, "x"):     CodeUnavailable,
		core.Errorf(core.CodeTooLarge, "x"):        CodeInvalid,
		core.Errorf(core.CodeNotImpl, "x"):         CodeInvalid,
		errors.New("boom"):                         CodeInternal,
	}
	for err, want := range cases {
		if got := CodeOf(err); got != want {
			t.Errorf("%v: %s, want %s", err, got, want)
		}
	}
	// Internal errors are not described; gone names the first index.
	if got := string(RenderError(nil, "", "r1", errors.New("secret dsn"))); strings.Contains(got, "secret") {
		t.Errorf("internal error leaked: %s", got)
	}
	got := string(RenderError(json.RawMessage(`5`), ActionSubscribe, "", &core.GoneError{RunID: "r1", FirstIndex: 3}))
	want := `{"event":"error","id":5,"action":"subscribe","run_id":"r1","code":"gone","detail":"events of run r1 before index 3 are no longer retained","first_available_index":3}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// FuzzWSParseClientFrame checks the parser of untrusted client frames: it
// never panics, fails only with code invalid, accepts only known actions,
// and whatever id it returns can be echoed in a well-formed error frame.
func FuzzWSParseClientFrame(f *testing.F) {
	seeds := []string{
		`{"action":"ping","id":"1"}`,
		`{"action":"authenticate","id":2,"token":"abc"}`,
		`{"action":"start","id":"s","agent_id":"assistant","message":"hi","session_id":"x","user_id":"u","background":false}`,
		`{"action":"subscribe","id":"r","run_id":"run","last_event_index":-1}`,
		`{"action":"continue","id":"c","run_id":"run","tools":[{"tool_call_id":"a","tool_name":"b","confirmed":false,"confirmation_note":"no"}]}`,
		`{"action":"cancel","id":"k","run_id":"run"}`,
		`{"action":"ping","id":"x","extra":1}`,
		`{"id":{"a":1},"action":"ping"}`,
		`[]`, `null`, `{`, "{\"id\":\"\\ud800\"}", `{"action":"subscribe","run_id":"r","last_event_index":-9223372036854775809}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ParseClientFrame(b)
		if err != nil {
			if CodeOf(err) != CodeInvalid {
				t.Fatalf("error of code %s: %v", CodeOf(err), err)
			}
			if out := RenderError(fr.ID, fr.Action, "", err); !json.Valid(out) {
				t.Fatalf("error frame is not JSON: %s", out)
			}
			return
		}
		if _, ok := allowed[fr.Action]; !ok {
			t.Fatalf("accepted unknown action %q", fr.Action)
		}
		if fr.LastEventIndex < -1 {
			t.Fatalf("cursor %d accepted", fr.LastEventIndex)
		}
		if fr.ID != nil && (len(fr.ID) > maxIDLen || !json.Valid(fr.ID)) {
			t.Fatalf("bad id accepted: %s", fr.ID)
		}
		if out := RenderPong(fr.ID); !json.Valid(out) {
			t.Fatalf("pong is not JSON: %s", out)
		}
	})
}
