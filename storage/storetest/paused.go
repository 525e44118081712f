package storetest

import (
	"testing"

	"github.com/agentgate/agentgate/core"
)

// testPausedState covers core.Run.Paused, which is not part of the run's
// JSON form and must still survive every store operation, so a paused run
// can be continued on any replica.
func testPausedState(t *testing.T, newBackend Factory) {
	parallel(t, "CreateGetRoundTrip", func(t *testing.T) {
		s := newBackend(t).Runs
		want := mustCreateRun(t, s, fullRun(newID("sess")))
		got := mustGetRun(t, s, want.RunID)
		assertRun(t, want, got)
		p := got.Paused
		if p.Turns != 2 || len(p.Messages) != 3 || len(p.Pending) != 2 || len(p.Done) != 1 {
			t.Fatalf("paused state: %+v", p)
		}
		if len(p.Messages[2].ToolCalls) != 2 || p.Messages[2].ToolCalls[0].Name != "get_weather" {
			t.Fatalf("paused messages lost their tool calls: %+v", p.Messages[2])
		}
		if p.Pending[0].Confirmed != nil {
			t.Fatalf("Pending[0].Confirmed = %v, want nil (undecided)", *p.Pending[0].Confirmed)
		}
		if c := p.Pending[1].Confirmed; c == nil || *c {
			t.Fatalf("Pending[1].Confirmed = %v, want false (rejected)", c)
		}
		if p.Pending[1].ConfirmationNote != "too expensive" {
			t.Fatalf("Pending[1].ConfirmationNote = %q", p.Pending[1].ConfirmationNote)
		}
		if c := p.Done[0].Confirmed; c == nil || !*c {
			t.Fatalf("Done[0].Confirmed = %v, want true", c)
		}
	})

	parallel(t, "EmptyPausedStateIsNotNil", func(t *testing.T) {
		s := newBackend(t).Runs
		r := minimalRun(newID("sess"))
		r.Status = core.RunPaused
		r.Paused = &core.PausedState{}
		mustCreateRun(t, s, r)
		if got := mustGetRun(t, s, r.RunID); got.Paused == nil {
			t.Fatal("an empty, non-nil Paused came back nil")
		}
	})

	parallel(t, "SetByUpdate", func(t *testing.T) {
		s := newBackend(t).Runs
		r := mustCreateRun(t, s, minimalRun(newID("sess")))
		paused := cloneRun(r)
		paused.Status = core.RunPaused
		paused.Paused = samplePaused(baseTime())
		paused.Requirements = sampleRequirements(baseTime())
		if err := s.UpdateRun(t.Context(), paused, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunPending}}); err != nil {
			t.Fatalf("UpdateRun: %v", err)
		}
		assertRun(t, paused, mustGetRun(t, s, r.RunID))
	})

	parallel(t, "ReplacedByUpdate", func(t *testing.T) {
		s := newBackend(t).Runs
		r := mustCreateRun(t, s, fullRun(newID("sess")))
		next := cloneRun(r)
		next.Paused = &core.PausedState{
			Messages: sampleMessages(baseTime()),
			Pending:  []core.ToolExecution{{ToolCallID: "call_x", ToolName: "ask_user", RequiresConfirmation: true}},
			Turns:    3,
		}
		if err := s.UpdateRun(t.Context(), next, core.UpdateRunParams{}); err != nil {
			t.Fatalf("UpdateRun: %v", err)
		}
		got := mustGetRun(t, s, r.RunID)
		assertRun(t, next, got)
		if len(got.Paused.Done) != 0 {
			t.Fatalf("old Done entries survived a replace: %+v", got.Paused.Done)
		}
	})

	parallel(t, "ClearedByUpdate", func(t *testing.T) {
		s := newBackend(t).Runs
		r := mustCreateRun(t, s, fullRun(newID("sess")))
		resumed := cloneRun(r)
		resumed.Status = core.RunRunning
		resumed.Paused = nil
		if err := s.UpdateRun(t.Context(), resumed, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunPaused}}); err != nil {
			t.Fatalf("UpdateRun: %v", err)
		}
		got := mustGetRun(t, s, r.RunID)
		if got.Paused != nil {
			t.Fatalf("Paused survived an update with nil: %+v", got.Paused)
		}
		assertRun(t, resumed, got)
	})

	parallel(t, "ReturnedBySetCancelRequested", func(t *testing.T) {
		// Cancelling a paused run rewrites it from what SetCancelRequested
		// returns, so that must carry the paused state.
		s := newBackend(t).Runs
		r := mustCreateRun(t, s, fullRun(newID("sess")))
		got, err := s.SetCancelRequested(t.Context(), r.RunID)
		if err != nil {
			t.Fatalf("SetCancelRequested: %v", err)
		}
		if got.Paused == nil {
			t.Fatal("SetCancelRequested returned the run without its Paused state")
		}
		assertJSONEqual(t, "Paused", r.Paused, got.Paused)
	})
}
