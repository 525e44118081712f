package storetest

import (
	"encoding/json"
	"testing"

	"github.com/agentgate/agentgate/core"
)

// testChildRuns covers the runs of teams and workflows and their child
// runs: every field of theirs survives a round trip (create and update),
// and ListRuns filters by team, workflow, parent, and top level only.
func testChildRuns(t *testing.T, newBackend Factory) {
	parallel(t, "RoundTrip", func(t *testing.T) {
		s := newBackend(t).Runs
		sess := newID("sess")
		team := minimalRun(sess)
		team.AgentID, team.AgentName = "", ""
		team.TeamID, team.TeamName = newID("team"), "The team"
		team.SessionState = map[string]any{"count": 2.0, "items": []any{"a"}}
		mustCreateRun(t, s, team)
		assertRun(t, team, mustGetRun(t, s, team.RunID))

		step := 1
		child := minimalRun(sess)
		child.ParentRunID, child.NestedDepth = team.RunID, 1
		child.WorkflowID, child.WorkflowName = newID("wf"), "The workflow"
		child.StepID, child.StepName, child.StepIndex = "s1", "research", &step
		mustCreateRun(t, s, child)
		assertRun(t, child, mustGetRun(t, s, child.RunID))

		child.Status = core.RunCompleted
		child.StepResults = json.RawMessage(`[{"step_name":"research","content":"done"}]`)
		child.SessionState = map[string]any{}
		if err := s.UpdateRun(t.Context(), child, core.UpdateRunParams{}); err != nil {
			t.Fatalf("UpdateRun: %v", err)
		}
		assertRun(t, child, mustGetRun(t, s, child.RunID))
	})

	parallel(t, "ListFilters", func(t *testing.T) {
		s := newBackend(t).Runs
		sess, team, wf := newID("sess"), newID("team"), newID("wf")
		parent := minimalRun(sess)
		parent.AgentID, parent.TeamID = "", team
		mustCreateRun(t, s, parent)
		var kids []string
		for range 3 {
			k := minimalRun(sess)
			k.ParentRunID, k.NestedDepth = parent.RunID, 1
			kids = append(kids, mustCreateRun(t, s, k).RunID)
		}
		flow := minimalRun(sess)
		flow.AgentID, flow.WorkflowID = "", wf
		mustCreateRun(t, s, flow)

		list := func(p core.ListRunsParams) []string {
			t.Helper()
			got, err := s.ListRuns(t.Context(), p)
			if err != nil {
				t.Fatalf("ListRuns(%+v): %v", p, err)
			}
			return runIDs(got)
		}
		assertIDs(t, "children", kids, list(core.ListRunsParams{ParentRunID: parent.RunID}))
		assertIDs(t, "team", []string{parent.RunID}, list(core.ListRunsParams{TeamID: team}))
		assertIDs(t, "workflow", []string{flow.RunID}, list(core.ListRunsParams{WorkflowID: wf}))
		assertIDs(t, "top level", []string{parent.RunID, flow.RunID}, list(core.ListRunsParams{SessionID: sess, TopLevel: true}))
		assertIDs(t, "whole session", append(append([]string{parent.RunID}, kids...), flow.RunID), list(core.ListRunsParams{SessionID: sess}))
	})
}
