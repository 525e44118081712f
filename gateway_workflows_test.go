package agentgate

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/configs"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/workflow"
)

// The embedded default's content-pipeline runs with no key: both branches
// of its condition, with the parallel review's outputs collected.
func TestDemoWorkflowRuns(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig(configs.Default)
	if err != nil {
		t.Fatal(err)
	}
	for i := range cfg.Models {
		m := cfg.Models[i]
		m.ChunkDelay = 0 // no need to watch it stream here
		cfg.Models[i] = m
	}
	cfg.DatabaseURL = "sqlite://" + filepath.Join(t.TempDir(), "s.db")
	ctx := context.Background()
	g, err := New(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(ctx)
	wf, err := g.Engine().Runnable(core.KindWorkflow, "content-pipeline")
	if err != nil || len(wf.Info().Steps) != 3 || wf.Info().Steps[1].StepType != "parallel" {
		t.Fatalf("workflow = %+v, %v", wf, err)
	}
	for _, c := range []struct{ msg, want string }{
		{"please publish a note on otters", "## second-opinion\n"},
		{"a note on otters", `You said: "a note on otters"`},
	} {
		run, err := g.Engine().Start(ctx, core.StartParams{WorkflowID: "content-pipeline", Message: c.msg})
		if err != nil {
			t.Fatal(err)
		}
		done, err := g.Engine().Wait(ctx, run.RunID, -1)
		if err != nil || done.Status != core.RunCompleted || !strings.Contains(done.Content, c.want) {
			t.Fatalf("%q: run = %s %q, %v", c.msg, done.Status, done.Content, err)
		}
		var rs []workflow.StepResult
		if err := json.Unmarshal(done.StepResults, &rs); err != nil || len(rs) != 3 || len(rs[1].Steps) != 2 {
			t.Fatalf("%q: step_results = %s", c.msg, done.StepResults)
		}
	}
	// A Go workflow: its target must be registered.
	if err := g.RegisterWorkflow(workflow.Definition{ID: "go-wf", Steps: []workflow.Step{{Name: "t", Team: "nope"}}}); err == nil || !strings.Contains(err.Error(), `team "nope" is not declared`) {
		t.Fatalf("unknown team target: %v", err)
	}
	if err := g.RegisterWorkflow(workflow.Definition{ID: "go-wf", Steps: []workflow.Step{{Name: "a", Agent: "assistant"}}}); err != nil {
		t.Fatal(err)
	}
}
