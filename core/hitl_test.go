package core_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

// startAndCollect starts a run of agent id and reads its stream to the end
// of the first segment.
func startAndCollect(t *testing.T, b *bundle, id, message string) (*core.Run, []core.Event) {
	t.Helper()
	ctx := context.Background()
	run, err := b.eng.Start(ctx, core.StartParams{AgentID: id, Message: message})
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.eng.Subscribe(ctx, run.RunID, -1)
	if err != nil {
		t.Fatal(err)
	}
	return run, enginetest.Collect(t, s)
}

// hitlRun starts a run of agent id and returns it with its RunPaused event.
func hitlRun(t *testing.T, b *bundle, id string) (*core.Run, core.Event) {
	t.Helper()
	run, evs := startAndCollect(t, b, id, "go")
	last := evs[len(evs)-1]
	if last.Event != core.EventRunPaused || len(last.Tools) != 1 || len(last.Requirements) != 1 {
		t.Fatalf("want RunPaused with one tool, got %v", types(evs))
	}
	return run, last
}

// continueAndCollect continues the run and reads the rest of its stream.
func continueAndCollect(t *testing.T, b *bundle, runID string, decision core.ToolExecution) []core.Event {
	t.Helper()
	ctx := context.Background()
	_, after, err := b.eng.Continue(ctx, core.ContinueParams{RunID: runID, Tools: []core.ToolExecution{decision}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.eng.Subscribe(ctx, runID, after)
	if err != nil {
		t.Fatal(err)
	}
	rest := enginetest.Collect(t, s)
	checkDense(t, rest, after+1)
	return rest
}

func TestUserInputPause(t *testing.T) {
	t.Parallel()
	calc := tool.Calculator()
	calc.RequiresUserInput = true
	calc.UserInputFields = []string{"expression"}
	b := setup(t, core.EventLogConfig{}, scriptedAgent(t, "input", scripted.Config{Rules: []scripted.Rule{{
		ToolCalls: []scripted.Call{{Name: "calculator", Arguments: map[string]any{"expression": "1+1"}}},
		Reply:     "result {{tool_result}}",
	}}}, calc))
	ctx := context.Background()
	run, paused := hitlRun(t, b, "input")
	p := paused.Tools[0]
	if !p.RequiresUserInput || p.RequiresConfirmation || p.ExternalExecutionRequired || len(p.UserInputSchema) != 1 {
		t.Fatalf("paused tool = %+v", p)
	}
	f := p.UserInputSchema[0]
	if f.Name != "expression" || f.FieldType != "str" || f.Description == "" || f.Value != nil {
		t.Fatalf("user input field = %+v", f)
	}
	if rq := paused.Requirements[0]; len(rq.UserInputSchema) != 1 || rq.ToolExecution == nil || !rq.ToolExecution.RequiresUserInput {
		t.Fatalf("requirement = %+v", rq)
	}
	// Refused: no value, a null value, a field the tool does not ask for.
	for name, schema := range map[string][]core.UserInputField{
		"missing": nil,
		"null":    {{Name: "expression"}},
		"extra":   {{Name: "expression", Value: "2"}, {Name: "other", Value: "x"}},
	} {
		d := p
		d.UserInputSchema = schema
		if _, _, err := b.eng.Continue(ctx, core.ContinueParams{RunID: run.RunID, Tools: []core.ToolExecution{d}}); core.CodeOf(err) != core.CodeInvalid {
			t.Fatalf("%s: want invalid, got %v", name, err)
		}
	}
	d := p
	d.UserInputSchema = []core.UserInputField{{Name: "expression", Value: "6*7"}}
	rest := continueAndCollect(t, b, run.RunID, d)
	last := rest[len(rest)-1]
	if last.Event != core.EventRunCompleted || last.Content != "result 42" {
		t.Fatalf("last %s %q (%v)", last.Event, last.Content, types(rest))
	}
	var done *core.ToolExecution
	for _, e := range rest {
		if e.Event == core.EventToolCallCompleted {
			done = e.Tool
		}
	}
	if done == nil || !done.Answered || !strings.Contains(string(done.ToolArgs), `"6*7"`) {
		t.Fatalf("tool completed with %+v", done)
	}
	got, _ := b.eng.Get(ctx, run.RunID)
	if got.Status != core.RunCompleted || len(got.Tools) != 1 || got.Tools[0].Result != "42" {
		t.Fatalf("stored run = %+v", got)
	}
}

func TestExternalExecutionPause(t *testing.T) {
	t.Parallel()
	called := false
	lookup := &tool.Tool{
		Name: "lookup", Description: "Looks a customer up in the CRM (run by the caller).",
		Parameters: map[string]any{"type": "object", "properties": map[string]any{"id": map[string]any{"type": "integer"}}},
		Flags:      tool.Flags{ExternalExecution: true},
		Call: func(context.Context, json.RawMessage) (string, error) {
			called = true
			return "", nil
		},
	}
	b := setup(t, core.EventLogConfig{}, scriptedAgent(t, "ext", scripted.Config{Rules: []scripted.Rule{{
		ToolCalls: []scripted.Call{{Name: "lookup", Arguments: map[string]any{"id": 7}}},
		Reply:     "the CRM says {{tool_result}}",
	}}}, lookup))
	ctx := context.Background()
	run, paused := hitlRun(t, b, "ext")
	p := paused.Tools[0]
	if !p.ExternalExecutionRequired || p.RequiresConfirmation || p.RequiresUserInput {
		t.Fatalf("paused tool = %+v", p)
	}
	if _, _, err := b.eng.Continue(ctx, core.ContinueParams{RunID: run.RunID, Tools: []core.ToolExecution{p}}); core.CodeOf(err) != core.CodeInvalid ||
		!strings.Contains(err.Error(), "result") {
		t.Fatalf("continue without a result: %v", err)
	}
	d := p
	d.Result = "Ada Lovelace, premium"
	rest := continueAndCollect(t, b, run.RunID, d)
	if rest[0].Event != core.EventRunContinued {
		t.Fatalf("first after continue: %s", rest[0].Event)
	}
	var sawDone bool
	for _, e := range rest {
		if e.Event == core.EventToolCallCompleted && e.Content == "Ada Lovelace, premium" {
			sawDone = true
		}
	}
	last := rest[len(rest)-1]
	if !sawDone || last.Event != core.EventRunCompleted || last.Content != "the CRM says Ada Lovelace, premium" {
		t.Fatalf("events %v, last %q", types(rest), last.Content)
	}
	if called {
		t.Fatal("the gateway called an externally executed tool")
	}
}

// A rejected user-input call needs no values: the model hears the rejection.
func TestUserInputRejected(t *testing.T) {
	t.Parallel()
	calc := tool.Calculator()
	calc.RequiresConfirmation = true
	calc.RequiresUserInput = true
	b := setup(t, core.EventLogConfig{}, scriptedAgent(t, "both", scripted.Config{Rules: []scripted.Rule{{
		ToolCalls: []scripted.Call{{Name: "calculator", Arguments: map[string]any{"expression": "1"}}},
		Reply:     "result {{tool_result}}", RejectedReply: "rejected: {{note}}",
	}}}, calc))
	run, paused := hitlRun(t, b, "both")
	d := paused.Tools[0]
	if len(d.UserInputSchema) != 1 || d.UserInputSchema[0].Name != "expression" {
		t.Fatalf("every property is asked for when no fields are named: %+v", d.UserInputSchema)
	}
	no := false
	d.Confirmed, d.ConfirmationNote = &no, "nope"
	rest := continueAndCollect(t, b, run.RunID, d)
	if last := rest[len(rest)-1]; last.Content != "rejected: nope" {
		t.Fatalf("last %q", last.Content)
	}
}

// A segment that has ended is replayed from one read: a paused run's
// stream ends at RunPaused; once continued and completed, a replay from
// the start goes through the pause to RunCompleted, and a cursor past the
// end or on a missing event is refused.
func TestReplayOfEndedSegments(t *testing.T) {
	t.Parallel()
	b := hitlBundle(t)
	ctx := context.Background()
	run, evs := pausedRun(t, b)
	paused := evs[len(evs)-1]
	s, err := b.eng.Subscribe(ctx, run.RunID, -1)
	if err != nil {
		t.Fatal(err)
	}
	if got := enginetest.Collect(t, s); len(got) != len(evs) || got[len(got)-1].Event != core.EventRunPaused {
		t.Fatalf("replay of the paused segment: %v", types(got))
	}
	yes := true
	d := paused.Tools[0]
	d.Confirmed = &yes
	rest := continueAndCollect(t, b, run.RunID, d)
	final := rest[len(rest)-1]
	for _, after := range []int64{-1, 0, paused.EventIndex - 1, paused.EventIndex, final.EventIndex - 1} {
		s, err := b.eng.Subscribe(ctx, run.RunID, after)
		if err != nil {
			t.Fatalf("after %d: %v", after, err)
		}
		got := enginetest.Collect(t, s)
		checkDense(t, got, after+1)
		if got[len(got)-1].EventIndex != final.EventIndex || got[len(got)-1].Event != core.EventRunCompleted {
			t.Fatalf("after %d: replay ends with %v", after, types(got))
		}
	}
	if s, err := b.eng.Subscribe(ctx, run.RunID, final.EventIndex); err != nil || !s.Done() {
		t.Fatalf("at the end: %v", err)
	}
	if _, err := b.eng.Subscribe(ctx, run.RunID, final.EventIndex+1); core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("beyond the end: %v", err)
	}
}
