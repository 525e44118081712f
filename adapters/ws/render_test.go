package ws

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/agentgate/agentgate/core"
)

// TestRenderEventAsEncodingJSON: an event frame is the text encoding/json
// writes for the event (escaping, floats, map order, raw JSON, detail).
func TestRenderEventAsEncodingJSON(t *testing.T) {
	t.Parallel()
	step, yes := 1, true
	for _, ev := range []*core.Event{
		{Event: core.EventRunContent, EventIndex: 3, RunID: "r", SessionID: "s", CreatedAt: 1765000000,
			Content: "<tok> & \u2028 \xff \"\\\x00", ContentType: "str"},
		{Event: core.EventRunCompleted, RunID: "r", StepIndex: &step, TimeToFirstToken: 1e-9,
			Data:        map[string]any{"b": []any{1e21, 0.5, nil, "<"}, "a": map[string]any{"y": false, "x": 1}},
			StepResults: json.RawMessage(` { "k" : "<&>" } `), Metrics: &core.Metrics{TotalTokens: 9},
			EventDetail: &core.EventDetail{GoalComplete: &yes, Title: "t", RunMedia: core.RunMedia{Files: []core.MediaRef{{ID: "f", Kind: core.MediaDocument, MIMEType: "application/pdf", Size: 1}}}}},
	} {
		want, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if got := RenderEvent(ev); !bytes.Equal(got, want) {
			t.Errorf("frame\n%s\nwant (encoding/json)\n%s", got, want)
		}
	}
}
