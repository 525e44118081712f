package team

import (
	"context"
	"fmt"
	"maps"

	"github.com/agentgate/agentgate/core"
)

// result is what one of the leader's tool calls came to.
type result struct {
	content string
	failed  bool // the tool call failed (the leader sees the error text)
	routed  bool // route mode: content is the team's reply
}

// runMember runs member m on message as a child run of the team's run.
// It sees a copy of state (the team's session state) and, as agno gives
// them to its members, the media and knowledge filters of the team's run
// input.
func (t *Team) runMember(ctx context.Context, x *core.Execution, state map[string]any, m Member, message string) (*core.Run, error) {
	p := core.ChildParams{Kind: m.Kind, ID: m.ID, Message: message, Media: inputMedia(x),
		SessionState: maps.Clone(state), Quiet: t.quiet}
	if x.Run != nil {
		p.KnowledgeFilters = x.Run.Input.KnowledgeFilters
	}
	return x.RunChild(ctx, p)
}

// inputMedia are the media of the team's run input.
func inputMedia(x *core.Execution) []core.MediaRef {
	if x.Run == nil {
		return nil
	}
	return x.Run.Input.Media()
}

// resumeMember continues the paused member pm with the caller's decisions.
func (t *Team) resumeMember(ctx context.Context, x *core.Execution, st *state, pm *pausedMember, decisions []core.ToolExecution) (*core.Run, error) {
	return x.RunChild(ctx, core.ChildParams{Kind: pm.Member.Kind, ID: pm.Member.ID, RunID: pm.RunID, Decisions: decisions,
		SessionState: maps.Clone(st.State), Quiet: t.quiet})
}

// settle reads a member's ended child run: its answer, its pause, or its
// failure as the team's policy says (an error ends the team's run).
func (t *Team) settle(ctx context.Context, st *state, m Member, child *core.Run) (result, *pausedMember, error) {
	switch child.Status {
	case core.RunCompleted:
		if child.SessionState != nil { // a nested team's state
			maps.Copy(st.State, child.SessionState)
		}
		return result{content: child.Content}, nil, nil
	case core.RunPaused:
		var pending []core.ToolExecution
		if child.Paused != nil {
			pending = child.Paused.Pending
		}
		return result{}, &pausedMember{Member: m, RunID: child.RunID, Pending: pending, Requirements: child.Requirements}, nil
	case core.RunCancelled:
		if err := ctx.Err(); err != nil {
			return result{}, nil, err
		}
		return result{}, nil, &core.AgentError{Type: "member_error", Err: fmt.Errorf("member %s was cancelled", m.ID)}
	}
	msg := child.Error
	if msg == "" {
		msg = "it ended " + string(child.Status)
	}
	if t.cfg.OnMemberError == Fail {
		return result{}, nil, &core.AgentError{Type: "member_error", Err: fmt.Errorf("member %s failed: %s", m.ID, msg)}
	}
	return result{content: fmt.Sprintf("Error: member %s failed: %s", m.ID, msg), failed: true}, nil, nil
}
