package workflow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"regexp"
	"sort"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/workflow"
	"github.com/agentgate/agentgate/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// line is the golden form of one event: its type, whose it is (the
// workflow's own, or the child run of a step) and the payload that
// matters, without ids, times or metrics.
type line struct {
	Event           core.EventType `json:"event"`
	Run             string         `json:"run"`
	StepName        string         `json:"step_name,omitempty"`
	StepIndex       *int           `json:"step_index,omitempty"`
	AgentID         string         `json:"agent_id,omitempty"`
	NestedDepth     int            `json:"nested_depth,omitempty"`
	Content         string         `json:"content,omitempty"`
	Iteration       int            `json:"iteration,omitempty"`
	MaxIterations   int            `json:"max_iterations,omitempty"`
	ConditionResult *bool          `json:"condition_result,omitempty"`
	SelectedSteps   []string       `json:"selected_steps,omitempty"`
	ErrorType       string         `json:"error_type,omitempty"`
}

// goldenLines renders evs; the events of a parallel's branches, which
// interleave as they run, are put in branch order (each branch's own
// order kept).
func goldenLines(runID string, evs []core.Event) []byte {
	evs = append([]core.Event(nil), evs...)
	for i := 0; i < len(evs); i++ {
		if evs[i].Event != core.EventParallelExecutionStarted || evs[i].Forwarded() {
			continue
		}
		j := i + 1
		for j < len(evs) && !(evs[j].Event == core.EventParallelExecutionCompleted && !evs[j].Forwarded()) {
			j++
		}
		win := evs[i+1 : j]
		sort.SliceStable(win, func(a, b int) bool { return win[a].StepName < win[b].StepName })
		i = j
	}
	var b bytes.Buffer
	for _, e := range evs {
		d := e.EventDetail
		if d == nil {
			d = &core.EventDetail{}
		}
		l := line{Event: e.Event, Run: "workflow", StepName: e.StepName, StepIndex: e.StepIndex, AgentID: e.AgentID,
			NestedDepth: e.NestedDepth, Content: e.Content, Iteration: d.Iteration, MaxIterations: d.MaxIterations,
			ConditionResult: d.ConditionResult, SelectedSteps: d.SelectedSteps, ErrorType: e.ErrorType}
		if e.RunID != runID {
			l.Run = "step " + e.StepName
		}
		j, _ := json.Marshal(l)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

var runIDs = regexp.MustCompile(`"step_run_id":"[^"]+"`)

// TestGoldenEveryStepType runs a workflow using every step type and
// compares its event sequence and step_results with
// testdata/every_step_type.txtar.
func TestGoldenEveryStepType(t *testing.T) {
	t.Parallel()
	bang := workflow.Func("bang", func(_ context.Context, in workflow.StepInput) (workflow.StepOutput, error) {
		return workflow.StepOutput{Content: in.Message + "!"}, nil
	})
	w := build(t, workflow.Definition{ID: "every", Name: "Every step type", Steps: []workflow.Step{
		{Name: "outline", Agent: "writer"},
		{Name: "group", Type: workflow.TypeSteps, Steps: []workflow.Step{{Name: "shout", Func: upper}}},
		{Name: "drafts", Type: workflow.TypeParallel, Steps: []workflow.Step{{Name: "a", Agent: "critic"}, {Name: "b", Func: bang}}},
		{Name: "gate", Type: workflow.TypeCondition, Condition: `steps["shout"].content contains "GO"`,
			Steps: []workflow.Step{{Name: "tick", Func: bang}}},
		{Name: "refine", Type: workflow.TypeLoop, MaxIterations: 3, EndCondition: `iteration >= 2`,
			Steps: []workflow.Step{{Name: "polish", Func: bang}}},
		{Name: "route", Type: workflow.TypeRouter, Selector: `len(previous) > 1000 ? "long" : "short"`,
			Choices: []workflow.Step{{Name: "short", Func: bang}, {Name: "long", Agent: "writer"}}},
	}})
	eng := engine(t, replyAgent(t, "writer", "outline of {{input}}"), replyAgent(t, "critic", "fine"), w)
	run, evs := runWorkflow(t, eng, "every", "go")
	end := last(evs)
	if end.Event != core.EventWorkflowCompleted {
		t.Fatalf("end = %+v", end)
	}
	var sr bytes.Buffer
	if err := json.Indent(&sr, runIDs.ReplaceAll(end.StepResults, []byte(`"step_run_id":"RUN"`)), "", "  "); err != nil {
		t.Fatal(err)
	}
	sr.WriteByte('\n')
	got := &txtar.Archive{
		Comment: []byte("The events of a workflow using every step type (go test -update rewrites).\n"),
		Files:   []txtar.File{{Name: "events", Data: goldenLines(run.RunID, evs)}, {Name: "step_results", Data: sr.Bytes()}},
	}
	file := "testdata/every_step_type.txtar"
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, txtar.Format(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if g := txtar.Format(got); !bytes.Equal(g, want) {
		t.Errorf("%s differs (run go test -update after checking):\n%s", file, testutil.LineDiff(string(want), string(g)))
	}
}
