package slack

import (
	"context"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/adapters/slack/fakeslack"
	"github.com/agentgate/agentgate/core"
)

// A thread click on a run paused on an approval: required tool is no
// approver's: the clicker is told, ephemerally, that it needs an approver
// and which approval (nothing is posted in the thread, the run stays
// paused, the buttons stay); once an approver resolved it, a click
// continues the run with the approval's decision.
func TestApprovalButtonWaitsForApprover(t *testing.T) {
	hs := newHarness(t, "gated", nil)
	ts := hs.ts()
	hs.event(fakeslack.Mention("EvG", "C1", "U1", ts, "", "compute 6*7"), nil)
	msgs := hs.waitThread("C1", ts, "the approval buttons", func(ms []fakeslack.Message) bool {
		return len(ms) == 1 && strings.Contains(ms[0].Blocks, ActionApprove)
	})
	hs.drain()
	buttons := msgs[0]
	runs := hs.runsOf("gated:C1:" + ts)
	if len(runs) != 1 || runs[0].Status != core.RunPaused || runs[0].Paused == nil || len(runs[0].Paused.Pending) != 1 {
		t.Fatalf("want one paused run: %+v", runs)
	}
	runID, approvalID := runs[0].RunID, runs[0].Paused.Pending[0].ApprovalID
	if approvalID == "" {
		t.Fatal("the paused call carries no approval id")
	}

	hs.click(buttons, ActionApprove, "U1")
	hs.drain()
	eph := hs.fake.Calls("chat.postEphemeral")
	if len(eph) != 1 || eph[0].Values.Get("user") != "U1" || !strings.Contains(eph[0].Values.Get("text"), "needs an approver") ||
		!strings.Contains(eph[0].Values.Get("text"), approvalID) {
		t.Fatalf("the clicker should be told it needs an approver, naming %s: %+v", approvalID, eph)
	}
	if r := hs.waitRun(runID, core.RunPaused); r.Status != core.RunPaused {
		t.Fatalf("the click must not continue the run: %s", r.Status)
	}
	if ms := hs.fake.Messages("C1", ts); len(ms) != 1 || !strings.Contains(ms[0].Blocks, ActionApprove) || strings.Contains(dump(ms), "Sorry") {
		t.Errorf("nothing should be posted and the buttons should stay: %s", dump(ms))
	}

	if _, err := hs.eng.ResolveApproval(context.Background(), core.ResolveApprovalParams{ID: approvalID, Status: core.ApprovalApproved, ResolvedBy: "ops"}); err != nil {
		t.Fatal(err)
	}
	hs.click(buttons, ActionApprove, "U1")
	hs.waitText("C1", ts, "approved and returned 42")
	hs.drain()
	hs.waitRun(runID, core.RunCompleted)
	a, err := hs.eng.GetApproval(context.Background(), approvalID)
	if err != nil || a.ResolvedBy != "ops" || a.Status != core.ApprovalApproved {
		t.Errorf("approval after the continue: %+v, %v", a, err)
	}
}
