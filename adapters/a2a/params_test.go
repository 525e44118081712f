package a2a

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
)

func TestDecisions(t *testing.T) {
	t.Parallel()
	pending := []core.ToolExecution{{ToolCallID: "c1", ToolName: "calculator"}, {ToolCallID: "c2", ToolName: "send_mail"}}
	type want struct {
		c1, c2 bool
		n1, n2 string
	}
	cases := []struct {
		texts []string
		data  []string
		want  *want
	}{
		{texts: []string{"yes"}, want: &want{true, true, "", ""}},
		{texts: []string{"  Approve!  "}, want: &want{true, true, "", ""}},
		{texts: []string{"OK, go ahead"}, want: &want{true, true, "go ahead", "go ahead"}},
		{texts: []string{"no"}, want: &want{false, false, "", ""}},
		{texts: []string{"No, not today."}, want: &want{false, false, "not today.", "not today."}},
		{texts: []string{"reject: too risky"}, want: &want{false, false, "too risky", "too risky"}},
		{texts: []string{"don't"}},
		{texts: []string{"maybe"}},
		{texts: []string{""}},
		{data: []string{`{"confirmed":true}`}, want: &want{true, true, "", ""}},
		{texts: []string{"because I said so"}, data: []string{`{"confirmed":false}`}, want: &want{false, false, "because I said so", "because I said so"}},
		{data: []string{`{"confirmed":"false","note":"n"}`}, want: &want{false, false, "n", "n"}},
		{data: []string{`{"tools":[{"tool_call_id":"c1","confirmed":true},{"tool_call_id":"c2","confirmed":false,"confirmation_note":"no mail"}]}`}, want: &want{true, false, "", "no mail"}},
		{data: []string{`{"confirmed":true,"tools":[{"tool_call_id":"c2","confirmed":false}]}`}, want: &want{true, false, "", ""}},
		{data: []string{`{"tools":[{"tool_call_id":"c1","confirmed":true}]}`}},                  // c2 undecided
		{data: []string{`{"confirmed":true,"tools":[{"tool_call_id":"c9","confirmed":true}]}`}}, // not pending
		{data: []string{`{"tools":[{"tool_call_id":"c1"}]}`}},                                   // no decision
		{data: []string{`{"confirmed":1}`}},                                                 // not a boolean
		{data: []string{`[true]`}, texts: []string{"yes"}, want: &want{true, true, "", ""}}, // non-objects ignored
	}
	for _, c := range cases {
		m := &inMessage{Texts: c.texts}
		for _, d := range c.data {
			m.Data = append(m.Data, json.RawMessage(d))
		}
		got, err := decisionsFor(m, pending)
		if c.want == nil {
			if err == nil {
				t.Errorf("%v %v: no error, got %+v", c.texts, c.data, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v %v: %v", c.texts, c.data, err)
			continue
		}
		w := []struct {
			c bool
			n string
		}{{c.want.c1, c.want.n1}, {c.want.c2, c.want.n2}}
		for i, g := range got {
			if g.ToolCallID != pending[i].ToolCallID || g.Confirmed == nil || *g.Confirmed != w[i].c || g.ConfirmationNote != w[i].n {
				t.Errorf("%v %v: tool %d = %+v (confirmed %v), want %+v", c.texts, c.data, i, g, *g.Confirmed, w[i])
			}
		}
	}
}

// Tools that need user input or an external result are answered per tool
// call in a data part; what is missing is refused by the engine, which
// names it.
func TestDecisionsWithInputAndResults(t *testing.T) {
	t.Parallel()
	pending := []core.ToolExecution{
		{ToolCallID: "c1", ToolName: "calculator", RequiresUserInput: true, UserInputSchema: []core.UserInputField{{Name: "expression"}}},
		{ToolCallID: "c2", ToolName: "lookup", ExternalExecutionRequired: true},
	}
	m := &inMessage{Data: []json.RawMessage{json.RawMessage(`{"tools":[` +
		`{"tool_call_id":"c1","user_input":{"expression":"6*7","b":2}},` +
		`{"tool_call_id":"c2","result":"found","confirmed":true}]}`)}}
	got, err := decisionsFor(m, pending)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Confirmed != nil || len(got[0].UserInputSchema) != 2 || got[0].UserInputSchema[0].Name != "b" ||
		got[0].UserInputSchema[1].Value != "6*7" || got[0].Result != "" {
		t.Fatalf("c1: %+v", got[0])
	}
	if got[1].Result != "found" || got[1].Confirmed == nil || !*got[1].Confirmed || got[1].UserInputSchema != nil {
		t.Fatalf("c2: %+v", got[1])
	}
	for _, bad := range []string{
		`{"tools":[{"tool_call_id":"c1","user_input":"6*7"}]}`, // not an object
		`{"tools":[{"tool_call_id":"c2","result":42}]}`,        // not a string
		`{"tools":[{"tool_call_id":"c2"}]}`,                    // nothing said
	} {
		if _, err := decisionsFor(&inMessage{Data: []json.RawMessage{json.RawMessage(bad)}}, pending[1:]); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	msg := pausedMessage("r", "s", 3, pending)
	b, _ := json.Marshal(msg)
	for _, want := range []string{`"type":"input_required"`, `"user_input_schema":[{"name":"expression"`, `"external_execution_required":true`,
		`calculator needs user input (expression)`, `lookup runs on your side`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("paused message lacks %s: %s", want, b)
		}
	}
}

func TestPageToken(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 50, 12345} {
		got, err := parsePageToken(pageToken(n))
		if err != nil || got != n {
			t.Errorf("%d: %d %v", n, got, err)
		}
	}
	for _, bad := range []string{"x", "bzotMQ", "YWJj"} {
		if _, err := parsePageToken(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
