package a2a

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
)

// TestDecisionsForApprovals: a call whose approval an approver resolves
// takes its decision from the store, so a reply without one (no text, or
// a text that is no yes or no) continues a run whose every pending call
// waits on an approval; a call without an approval still needs one.
func TestDecisionsForApprovals(t *testing.T) {
	t.Parallel()
	gated := []core.ToolExecution{{ToolCallID: "c1", ToolName: "calculator", RequiresConfirmation: true, ApprovalID: "a1", ApprovalType: core.ApprovalRequired}}
	for _, m := range []*inMessage{{}, {Texts: []string{"please go on"}}, {Texts: []string{"  "}}} {
		got, err := decisionsFor(m, gated)
		if err != nil || len(got) != 0 {
			t.Errorf("reply %+v to an approval-gated pause: %+v, %v; want no decisions (the store's)", m, got, err)
		}
	}
	// A yes or no is still read as the caller's decision (the engine puts
	// the resolved approval's over it).
	if got, err := decisionsFor(&inMessage{Texts: []string{"no, not now"}}, gated); err != nil || len(got) != 1 || *got[0].Confirmed {
		t.Errorf("no to a gated pause: %+v, %v", got, err)
	}
	mixed := append([]core.ToolExecution{{ToolCallID: "c2", ToolName: "lookup", RequiresConfirmation: true}}, gated...)
	for _, m := range []*inMessage{{}, {Texts: []string{"please go on"}}} {
		if _, err := decisionsFor(m, mixed); err == nil {
			t.Errorf("reply %+v with a call that has no approval: accepted", m)
		}
	}
	// A malformed data part is refused whatever the approvals.
	if _, err := decisionsFor(&inMessage{Data: []json.RawMessage{json.RawMessage(`{"tools":[{"tool_call_id":"c1"}]}`)}}, gated); err == nil {
		t.Error("a data part deciding nothing: accepted")
	}
}

// TestApprovalPendingError: a continue refused for a pending approval is
// forbidden, names the approval and carries its id in the error's
// metadata.
func TestApprovalPendingError(t *testing.T) {
	t.Parallel()
	e := toError(&core.ApprovalPendingError{RunID: "r1", ApprovalID: "a1"})
	if e.Kind != KindForbidden || e.Metadata["approval_id"] != "a1" || !strings.Contains(e.Message, "a1") {
		t.Fatalf("toError = %+v", e)
	}
}

// TestPausedMessageNamesApproval: the input-required message's tools carry
// the approval a call waits on.
func TestPausedMessageNamesApproval(t *testing.T) {
	t.Parallel()
	msg := pausedMessage("r", "s", 3, []core.ToolExecution{{ToolCallID: "c1", ToolName: "calculator", RequiresConfirmation: true,
		ApprovalType: core.ApprovalRequired, ApprovalID: "a1"}})
	b, _ := json.Marshal(msg)
	for _, want := range []string{`"approval_id":"a1"`, `"approval_type":"required"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("paused message lacks %s: %s", want, b)
		}
	}
}
