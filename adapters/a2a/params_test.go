package a2a

import (
	"encoding/json"
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
