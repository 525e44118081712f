package team_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/team"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

// A member's call of an approval: required tool gates the team's run: the
// approval is the team run's (source team), stamped on its requirement; a
// continue waits for it and then needs nothing more.
func TestMemberApprovalGatesTheTeam(t *testing.T) {
	t.Parallel()
	c := tool.Calculator()
	c.Approval = core.ApprovalRequired
	gatedMember := member(t, "approver", []scripted.Rule{{
		ToolCalls: []scripted.Call{{Name: "calculator", Arguments: map[string]any{"expression": "6*7"}}},
		Reply:     "approved: {{tool_result}}", RejectedReply: "rejected: {{note}}",
	}}, c)
	eng := newEngine(t, gatedMember, newTeam(t, team.Config{ID: "crew", Mode: team.Broadcast}, "approver"))
	ctx := context.Background()
	run, evs := start(t, eng, "crew", "go", "")
	end := last(evs)
	if end.Event != "TeamRunPaused" || len(end.Requirements) != 1 {
		t.Fatalf("want TeamRunPaused, got %v", types(evs))
	}
	te := end.Requirements[0].ToolExecution
	if te == nil || te.ApprovalID == "" || te.ApprovalType != core.ApprovalRequired {
		t.Fatalf("the team's requirement carries no approval: %+v", te)
	}
	a, err := eng.GetApproval(ctx, te.ApprovalID)
	if err != nil {
		t.Fatal(err)
	}
	if a.RunID != run.RunID || a.SourceType != core.KindTeam || a.TeamID != "crew" || a.Status != core.ApprovalPending {
		t.Fatalf("approval = %+v: want the team run's", a)
	}
	if _, total, _ := eng.ListApprovals(ctx, core.ListApprovalsParams{RunID: end.Requirements[0].MemberRunID}); total != 0 {
		t.Fatalf("the member's own run has %d approvals, want none: the team's run is what is continued", total)
	}
	_, _, err = eng.Continue(ctx, core.ContinueParams{RunID: run.RunID})
	var ape *core.ApprovalPendingError
	if !errors.As(err, &ape) {
		t.Fatalf("continue while pending: %v", err)
	}
	if _, err := eng.ResolveApproval(ctx, core.ResolveApprovalParams{ID: a.ID, Status: core.ApprovalApproved, ResolvedBy: "boss"}); err != nil {
		t.Fatal(err)
	}
	_, after, err := eng.Continue(ctx, core.ContinueParams{RunID: run.RunID})
	if err != nil {
		t.Fatal(err)
	}
	s, err := eng.Subscribe(ctx, run.RunID, after)
	if err != nil {
		t.Fatal(err)
	}
	rest := enginetest.Collect(t, s)
	if l := last(rest); l.Event != "TeamRunCompleted" || !strings.HasSuffix(l.Content, "approved: 42") {
		t.Fatalf("after the approval: %v %q", types(rest), l.Content)
	}
}
