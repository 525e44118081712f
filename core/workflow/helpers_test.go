package workflow_test

import (
	"context"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/core/workflow"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

// replyAgent answers every message with reply ({{input}}: the message).
func replyAgent(t *testing.T, id, reply string) core.Agent {
	t.Helper()
	a, err := agent.New(agent.Config{ID: id, Name: "Agent " + id, Model: scripted.New(scripted.Config{Chunks: 2, Rules: []scripted.Rule{{Reply: reply}}})})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// hitlAgent calls a calculator that needs confirmation.
func hitlAgent(t *testing.T, id string) core.Agent {
	t.Helper()
	calc := tool.Calculator()
	calc.RequiresConfirmation = true
	a, err := agent.New(agent.Config{ID: id, Model: scripted.New(scripted.Config{Rules: []scripted.Rule{{
		ToolCalls: []scripted.Call{{Name: "calculator", Arguments: map[string]any{"expression": "6*7"}}},
		Reply:     "result {{tool_result}}", RejectedReply: "rejected",
	}}}), Tools: []*tool.Tool{calc}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func build(t *testing.T, def workflow.Definition) *workflow.Workflow {
	t.Helper()
	w, err := workflow.New(def, workflow.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func engine(t *testing.T, rs ...core.Runnable) *core.Engine {
	t.Helper()
	return enginetest.New(t, enginetest.Options{}, rs...).Engine
}

// upper is a function step.
var upper = workflow.Func("upper", func(_ context.Context, in workflow.StepInput) (workflow.StepOutput, error) {
	return workflow.StepOutput{Content: strings.ToUpper(in.Message)}, nil
})

// runWorkflow starts workflow id and reads its stream to the end of the
// segment (completion, error, cancellation or pause).
func runWorkflow(t *testing.T, eng *core.Engine, id, msg string) (*core.Run, []core.Event) {
	t.Helper()
	ctx := context.Background()
	run, err := eng.Start(ctx, core.StartParams{WorkflowID: id, Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	return run, read(t, eng, run.RunID, -1)
}

func read(t *testing.T, eng *core.Engine, runID string, after int64) []core.Event {
	t.Helper()
	s, err := eng.Subscribe(context.Background(), runID, after)
	if err != nil {
		t.Fatal(err)
	}
	return enginetest.Collect(t, s)
}

// own are the workflow's own events (not its children's), by type.
func own(evs []core.Event) []core.EventType {
	var out []core.EventType
	for _, e := range evs {
		if !e.Forwarded() {
			out = append(out, e.Event)
		}
	}
	return out
}

func names(evs []core.Event) []core.EventType {
	out := make([]core.EventType, len(evs))
	for i, e := range evs {
		out[i] = e.Event
	}
	return out
}

func last(evs []core.Event) core.Event { return evs[len(evs)-1] }

func count(evs []core.Event, typ core.EventType) int {
	n := 0
	for _, e := range evs {
		if e.Event == typ && !e.Forwarded() {
			n++
		}
	}
	return n
}
