package redislog

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/agentgate/agentgate/core"
)

// The stored JSON of every kind of event decodes, with unmarshalStored,
// into exactly what encoding/json decodes it into: the payloads of the
// rendering tests (escapes, numbers, raw JSON, embedded details and media)
// and every event of adapters/rest's golden files.
func TestStoredDecodeAsEncodingJSON(t *testing.T) {
	t.Parallel()
	step, yes, no := 2, true, false
	evs := []*core.Event{
		{Event: core.EventRunContent, EventIndex: 7, RunID: "r1", SessionID: "s1", AgentID: "a", AgentName: "A", CreatedAt: 1765000000,
			Content: "tok 000123 <b>&amp;\u2028\u2029 \xff\xfe é \"q\" \\ \t\n\x01\x7f", ContentType: "str", ReasoningContent: "think </script>"},
		{Event: core.EventRunCompleted, RunID: "r1", Metrics: &core.Metrics{InputTokens: 3, OutputTokens: 4, TotalTokens: 7},
			TimeToFirstToken: 0.000001234, StepIndex: &step,
			Data: map[string]any{"z": 1.0, "a": []any{1e21, 1e-7, 123456789.0, -0.0, 3.14159, "x<y", nil, true,
				map[string]any{"b": 2, "a": int64(-1), "é": "ü"}}},
			SessionState: map[string]any{},
			StepResults:  json.RawMessage(" [ {\"a\" : \"<&>\"},\n 1 ] "),
			Tools:        []core.ToolExecution{{ToolCallID: "c", ToolName: "t", ToolArgs: json.RawMessage(`{ "x": 1 }`), Confirmed: &no}},
			EventDetail: &core.EventDetail{Iteration: 2, GoalComplete: &yes, Memories: json.RawMessage(`[ ]`), SelectedSteps: []string{"a", ""},
				RunMedia: core.RunMedia{Images: []core.MediaRef{{ID: "abc", Kind: core.MediaImage, MIMEType: "image/png", Size: 10, Width: 2, Height: 3}}}}},
		{Event: core.EventRunError, RunID: "r2", Error: "boom", ErrorType: "model_error"},
	}
	files, err := filepath.Glob("../../adapters/rest/testdata/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files of adapters/rest: %v", err)
	}
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range ar.Files {
			if f.Name != "events" {
				continue
			}
			for _, line := range bytes.Split(bytes.TrimSpace(f.Data), []byte("\n")) {
				if len(bytes.TrimSpace(line)) == 0 || bytes.HasPrefix(line, []byte("error ")) {
					continue
				}
				var ev core.Event
				if err := json.Unmarshal(line, &ev); err != nil {
					t.Fatal(err)
				}
				ev.RunID = "r3"
				evs = append(evs, &ev)
			}
		}
	}
	for i, ev := range evs {
		var buf bytes.Buffer
		head, tail, err := encode(&buf, ev)
		if err != nil {
			t.Fatal(err)
		}
		stored := append(append(append([]byte(nil), head...), "42"...), tail...)
		var want, got core.Event
		if err := json.Unmarshal(stored, &want); err != nil {
			t.Fatalf("event %d: encoding/json: %v", i, err)
		}
		if err := unmarshalStored(stored, &got); err != nil {
			t.Fatalf("event %d: unmarshalStored: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("event %d (%s) decodes as\n%#v\nwant (encoding/json)\n%#v", i, ev.Event, got, want)
		}
	}
	if len(evs) < 10 {
		t.Fatalf("only %d events checked", len(evs))
	}
}
