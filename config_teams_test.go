package agentgate

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
)

const teamsBase = "models: {m: {provider: scripted}}\nagents: [{id: a, model: m}, {id: b, model: m}]\n"

func TestTeamConfigValidation(t *testing.T) {
	t.Parallel()
	cases := []struct{ teams, want string }{
		{"teams: [{id: t, model: m, members: [a, ghost]}]", `teams[0] (t, line 3): unknown member "ghost"`},
		{"teams: [{id: t, model: m, members: []}]", "teams[0] (t, line 3): members is empty"},
		{"teams: [{id: t, model: m}]", "teams[0] (t, line 3): members is empty"},
		{"teams: [{id: t, model: m, mode: vote, members: [a]}]", `teams[0] (t, line 3): unknown mode "vote"`},
		{"teams: [{id: t, model: nope, members: [a]}]", `teams[0] (t, line 3): model "nope" is not declared`},
		{"teams: [{id: t, members: [a]}]", "teams[0] (t, line 3): model is required"},
		{"teams: [{id: t, model: m, members: [a], on_member_error: ignore}]", "teams[0] (t, line 3): on_member_error"},
		{"teams: [{id: t, model: m, members: [a, a]}]", `teams[0] (t, line 3): member "a" is listed twice`},
		{"teams: [{id: t, model: m, members: [t]}]", "teams[0] (t, line 3): a team cannot be its own member"},
		{"teams: [{id: a, model: m, members: [b]}]", `teams[0] (a, line 3): id "a" is an agent's too`},
		{"teams: [{id: t, model: m, members: [a]}, {id: t, model: m, members: [b]}]", `teams[1] (t, line 3): id "t" is used twice`},
		{"teams: [{model: m, members: [a]}]", "teams[0] (line 3): id is required"},
		{"teams: [{id: t, model: m, members: [a], max_parallel: -1}]", "must not be negative"},
		{"teams: [{id: x, model: m, members: [y]}, {id: y, model: m, members: [z]}, {id: z, model: m, members: [a, x]}]",
			"teams[0] (x, line 3): a cycle of nested teams: x -> y -> z -> x"},
		{"teams:\n  - id: ok\n    model: m\n    members: [a]\n  - id: bad\n    model: m\n    members: [ghost]\n",
			`teams[1] (bad, line 7): unknown member "ghost"`},
	}
	for _, c := range cases {
		cfg, err := ParseConfig([]byte(teamsBase + c.teams))
		if err != nil {
			t.Fatalf("%s: %v", c.teams, err)
		}
		cfg.applyDefaults()
		err = cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.teams, err, c.want)
		}
	}
	for _, ok := range []string{
		"teams: [{id: t, mode: broadcast, members: [a, b]}]",
		"teams: [{id: inner, model: m, members: [a]}, {id: outer, model: m, mode: route, members: [inner, b]}]",
		"teams: [{id: outer, model: m, members: [inner]}, {id: inner, mode: tasks, model: m, members: [a], max_iterations: 3}]",
	} {
		cfg, err := ParseConfig([]byte(teamsBase + ok))
		if err != nil {
			t.Fatal(err)
		}
		cfg.applyDefaults()
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	if _, err := ParseConfig([]byte(teamsBase + "teams: [{id: t, model: m, members: [a], colour: red}]")); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("an unknown team key: %v", err)
	}
}

// The embedded demo team runs with no key: the leader delegates to the
// assistant, which calls its clock tool.
func TestDemoTeam(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL = "sqlite://" + filepath.Join(t.TempDir(), "s.db")
	for name, m := range cfg.Models { // no streaming delays in the test
		m.ChunkDelay = 0
		cfg.Models[name] = m
	}
	ctx := context.Background()
	g, err := New(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(ctx)
	tm, err := g.Engine().Runnable(core.KindTeam, "research-team")
	if err != nil {
		t.Fatal(err)
	}
	info := tm.Info()
	if info.Mode != "coordinate" || len(info.Members) != 2 || info.Members[0].Name != "Assistant" {
		t.Fatalf("team info = %+v", info)
	}
	run, err := g.Engine().RunBlocking(ctx, core.StartParams{TeamID: "research-team", Message: "what time is it?"})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != core.RunCompleted || !strings.Contains(run.Content, "the current time is") || len(run.Tools) != 1 {
		t.Fatalf("run = %+v", run)
	}
	kids, err := g.Engine().List(ctx, core.ListRunsParams{ParentRunID: run.RunID})
	if err != nil || len(kids) != 1 || kids[0].AgentID != "assistant" || len(kids[0].Tools) != 1 || kids[0].Tools[0].ToolName != "current_time" {
		t.Fatalf("member runs = %+v, %v", kids, err)
	}
}
