package storetest

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/eval"
)

// testEvals covers eval.Store: CRUD and the round trip of every field, the
// unique id, the outcome that keeps a rename, delete by ids and owner, each
// filter (incl. the owner's: isolation), paging and sorting.
func testEvals(t *testing.T, newBackend Factory) {
	full := func(agent string) *eval.EvalRun {
		yes := true
		return &eval.EvalRun{ID: newID("ev"), AgentID: agent, ModelID: "judge", ModelProvider: "scripted", Name: "n",
			EvaluatedComponentName: "Agent", EvalType: eval.TypeAccuracy,
			EvalData:  map[string]any{"avg_score": 9.0, "results": []any{map[string]any{"score": 9.0, "reason": "r \u0000"}}},
			EvalInput: map[string]any{"input": "q", "num_iterations": 2.0}, UserID: newID("user"), Status: eval.StatusCompleted,
			Passed: &yes, Error: "", RunIDs: []string{"r1", "r2"}, CreatedAt: baseTime(), UpdatedAt: baseTime() + 1}
	}
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		s := newBackend(t).Evals
		e := full(newID("agent"))
		if err := s.CreateEvalRun(t.Context(), e); err != nil {
			t.Fatalf("CreateEvalRun: %v", err)
		}
		got, err := s.GetEvalRun(t.Context(), e.ID)
		if err != nil {
			t.Fatalf("GetEvalRun: %v", err)
		}
		// PostgreSQL stores NUL as U+FFFD (see sqlstore.EncodeJSON).
		reason := got.EvalData["results"].([]any)[0].(map[string]any)["reason"]
		if reason != "r \u0000" && reason != "r \ufffd" {
			t.Errorf("reason = %q", reason)
		}
		got.EvalData["results"], e.EvalData["results"] = nil, nil
		if !reflect.DeepEqual(got, e) {
			t.Errorf("GetEvalRun = %+v\nwant %+v", got, e)
		}
		if err := s.CreateEvalRun(t.Context(), e); !errors.Is(err, core.ErrConflict) {
			t.Errorf("CreateEvalRun(same id) = %v, want ErrConflict", err)
		}
		if _, err := s.GetEvalRun(t.Context(), newID("none")); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("GetEvalRun(missing) = %v, want ErrNotFound", err)
		}
	})
	t.Run("RunningThenOutcome", func(t *testing.T) {
		t.Parallel()
		s := newBackend(t).Evals
		e := &eval.EvalRun{ID: newID("ev"), AgentID: newID("agent"), EvalType: eval.TypeReliability, Status: eval.StatusRunning,
			CreatedAt: baseTime(), UpdatedAt: baseTime()}
		if err := s.CreateEvalRun(t.Context(), e); err != nil {
			t.Fatalf("CreateEvalRun: %v", err)
		}
		got, err := s.GetEvalRun(t.Context(), e.ID)
		if err != nil || got.Passed != nil || got.RunIDs == nil || len(got.RunIDs) != 0 || got.EvalData == nil || got.EvalInput != nil {
			t.Fatalf("running eval run = %+v, %v: want passed nil, no runs, empty data, no input", got, err)
		}
		if err := s.RenameEvalRun(t.Context(), e.ID, "renamed", baseTime()+5); err != nil {
			t.Fatalf("RenameEvalRun: %v", err)
		}
		no := false
		e.Status, e.Passed, e.Error, e.RunIDs, e.UpdatedAt = eval.StatusFailed, &no, "judge failed", []string{"r"}, baseTime()+9
		e.EvalData, e.ModelID = map[string]any{"eval_status": "FAILED"}, "m"
		if err := s.SaveEvalResult(t.Context(), e); err != nil {
			t.Fatalf("SaveEvalResult: %v", err)
		}
		got, _ = s.GetEvalRun(t.Context(), e.ID)
		if got.Name != "renamed" || got.Status != eval.StatusFailed || got.Passed == nil || *got.Passed || got.Error != "judge failed" ||
			!slices.Equal(got.RunIDs, []string{"r"}) || got.EvalData["eval_status"] != "FAILED" || got.ModelID != "m" || got.UpdatedAt != baseTime()+9 {
			t.Errorf("after rename and outcome = %+v", got)
		}
		if err := s.RenameEvalRun(t.Context(), newID("none"), "x", 1); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("RenameEvalRun(missing) = %v", err)
		}
		if err := s.SaveEvalResult(t.Context(), &eval.EvalRun{ID: newID("none")}); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("SaveEvalResult(missing) = %v", err)
		}
	})
	t.Run("DeleteByIDsAndOwner", func(t *testing.T) {
		t.Parallel()
		s := newBackend(t).Evals
		agent := newID("agent")
		a, b, c := full(agent), full(agent), full(agent)
		for _, e := range []*eval.EvalRun{a, b, c} {
			if err := s.CreateEvalRun(t.Context(), e); err != nil {
				t.Fatal(err)
			}
		}
		// c's owner may not delete a or b.
		if n, err := s.DeleteEvalRuns(t.Context(), []string{a.ID, b.ID}, c.UserID); err != nil || n != 0 {
			t.Fatalf("DeleteEvalRuns(others', as c's owner) = %d, %v; want 0", n, err)
		}
		if n, err := s.DeleteEvalRuns(t.Context(), []string{a.ID, c.ID, newID("none")}, ""); err != nil || n != 2 {
			t.Fatalf("DeleteEvalRuns = %d, %v; want 2", n, err)
		}
		if _, err := s.GetEvalRun(t.Context(), a.ID); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("a after delete: %v", err)
		}
		if _, err := s.GetEvalRun(t.Context(), b.ID); err != nil {
			t.Errorf("b after delete: %v", err)
		}
	})
	t.Run("Filters", func(t *testing.T) {
		t.Parallel()
		s := newBackend(t).Evals
		model := newID("model")
		user := newID("user")
		agent, team, wf := newID("agent"), newID("team"), newID("wf")
		mk := func(f func(e *eval.EvalRun)) *eval.EvalRun {
			e := &eval.EvalRun{ID: newID("ev"), ModelID: model, UserID: user, EvalType: eval.TypeAccuracy, Status: eval.StatusCompleted,
				CreatedAt: baseTime(), UpdatedAt: baseTime()}
			f(e)
			if err := s.CreateEvalRun(t.Context(), e); err != nil {
				t.Fatal(err)
			}
			return e
		}
		ag := mk(func(e *eval.EvalRun) { e.AgentID = agent })
		ag2 := mk(func(e *eval.EvalRun) { e.AgentID = agent; e.EvalType = eval.TypeReliability })
		tm := mk(func(e *eval.EvalRun) { e.TeamID = team; e.EvalType = eval.TypePerformance })
		wr := mk(func(e *eval.EvalRun) { e.WorkflowID = wf })
		other := mk(func(e *eval.EvalRun) { e.AgentID = agent; e.UserID = newID("user") })
		list := func(f eval.Filter) []string {
			t.Helper()
			got, total, err := s.ListEvalRuns(t.Context(), f)
			if err != nil || total != len(got) {
				t.Fatalf("ListEvalRuns(%+v) = %d of %d, %v", f, len(got), total, err)
			}
			var out []string
			for _, e := range got {
				out = append(out, e.ID)
			}
			slices.Sort(out)
			return out
		}
		sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
		for name, c := range map[string]struct {
			f    eval.Filter
			want []string
		}{
			"agent_id":      {eval.Filter{AgentID: agent}, sorted(ag.ID, ag2.ID, other.ID)},
			"agent_id+user": {eval.Filter{AgentID: agent, UserID: user}, sorted(ag.ID, ag2.ID)},
			"team_id":       {eval.Filter{TeamID: team}, sorted(tm.ID)},
			"workflow_id":   {eval.Filter{WorkflowID: wf}, sorted(wr.ID)},
			"model_id+user": {eval.Filter{ModelID: model, UserID: user}, sorted(ag.ID, ag2.ID, tm.ID, wr.ID)},
			"type team":     {eval.Filter{ModelID: model, Kind: "team"}, sorted(tm.ID)},
			"type workflow": {eval.Filter{ModelID: model, Kind: "workflow"}, sorted(wr.ID)},
			"type agent":    {eval.Filter{ModelID: model, Kind: "agent", UserID: user}, sorted(ag.ID, ag2.ID)},
			"eval_types":    {eval.Filter{ModelID: model, EvalTypes: []string{eval.TypeReliability, eval.TypePerformance}}, sorted(ag2.ID, tm.ID)},
			"none":          {eval.Filter{ModelID: newID("none")}, nil},
		} {
			if got := list(c.f); !slices.Equal(got, c.want) {
				t.Errorf("%s: got %v, want %v", name, got, c.want)
			}
		}
		if _, _, err := s.ListEvalRuns(t.Context(), eval.Filter{Kind: "robot"}); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("ListEvalRuns(type robot) = %v, want ErrInvalid", err)
		}
	})
	t.Run("PagingAndSort", func(t *testing.T) {
		t.Parallel()
		s := newBackend(t).Evals
		agent := newID("agent")
		var made []string
		for i := range 5 {
			e := &eval.EvalRun{ID: newID("ev"), AgentID: agent, Name: string(rune('e' - i)), EvalType: eval.TypeAccuracy,
				Status: eval.StatusCompleted, CreatedAt: baseTime() + int64(i), UpdatedAt: baseTime() + int64(10-i)}
			if err := s.CreateEvalRun(t.Context(), e); err != nil {
				t.Fatal(err)
			}
			made = append(made, e.ID)
		}
		page := func(f eval.Filter) []string {
			t.Helper()
			f.AgentID = agent
			got, total, err := s.ListEvalRuns(t.Context(), f)
			if err != nil || total != 5 && len(got) > 0 {
				t.Fatalf("ListEvalRuns(%+v): total %d, %v", f, total, err)
			}
			var out []string
			for _, e := range got {
				out = append(out, e.ID)
			}
			return out
		}
		if got := page(eval.Filter{Limit: 2, Page: 1}); !slices.Equal(got, []string{made[4], made[3]}) { // created_at desc
			t.Errorf("page 1 = %v", got)
		}
		if got := page(eval.Filter{Limit: 2, Page: 3}); !slices.Equal(got, []string{made[0]}) {
			t.Errorf("page 3 = %v", got)
		}
		if got := page(eval.Filter{Limit: 2, Page: 4}); len(got) != 0 {
			t.Errorf("page 4 = %v", got)
		}
		if got := page(eval.Filter{SortBy: eval.SortUpdatedAt, SortOrder: eval.OrderAsc, Limit: 2}); !slices.Equal(got, []string{made[4], made[3]}) {
			t.Errorf("updated_at asc = %v", got)
		}
		if got := page(eval.Filter{SortBy: eval.SortName, SortOrder: eval.OrderAsc}); !slices.Equal(got, []string{made[4], made[3], made[2], made[1], made[0]}) {
			t.Errorf("name asc = %v", got)
		}
		if _, _, err := s.ListEvalRuns(t.Context(), eval.Filter{SortBy: "eval_data; DROP TABLE eval_runs"}); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("bad sort key = %v, want ErrInvalid", err)
		}
	})
}
