// Package runnabletest has small runnables for the interface tests: an
// echo agent, an agent that pauses for a confirmation, a team that runs
// its members in turn (pausing when one pauses) and a workflow whose steps
// each run an agent through a child run. They follow the engine's contract
// for teams and workflows (core.Execution.RunChild, PausedState.Runnable)
// without any model, so that adapters can be tested before (and
// independently of) the real core/team and core/workflow.
package runnabletest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/core"
)

// Echo is an agent that answers "<prefix><message>", streamed as one
// RunContent event.
type Echo struct {
	ID, Prefix string
}

// Info implements core.Agent.
func (a *Echo) Info() core.AgentInfo { return core.AgentInfo{ID: a.ID, Name: "Echo " + a.ID} }

// Execute implements core.Agent.
func (a *Echo) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	out := a.Prefix + x.Message
	if err := x.Emit(ctx, core.Event{Event: core.EventRunContent, Content: out}); err != nil {
		return nil, err
	}
	return &core.Outcome{Content: out}, nil
}

// ConfirmTool is the tool call Approver pauses on.
const ConfirmTool = "delete_records"

// Approver is an agent that pauses on a tool call needing confirmation
// (tool call id "call-<run id>"); continued, it answers "approved" or
// "rejected: <note>".
type Approver struct{ ID string }

// Info implements core.Agent.
func (a *Approver) Info() core.AgentInfo { return core.AgentInfo{ID: a.ID, Name: "Approver " + a.ID} }

// Execute implements core.Agent.
func (a *Approver) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	if x.Resume == nil {
		return &core.Outcome{Paused: &core.PausedState{Pending: []core.ToolExecution{{
			ToolCallID: "call-" + x.Run.RunID, ToolName: ConfirmTool, ToolArgs: json.RawMessage(`{"table":"users"}`),
			RequiresConfirmation: true,
		}}}}, nil
	}
	tools := x.Resume.Pending
	content := "approved"
	for _, t := range tools {
		if t.Confirmed == nil || !*t.Confirmed {
			content = "rejected: " + t.ConfirmationNote
		}
	}
	if err := x.Emit(ctx, core.Event{Event: core.EventRunContent, Content: content}); err != nil {
		return nil, err
	}
	return &core.Outcome{Content: content, Tools: tools}, nil
}

// Team runs its members one after the other on the message and answers
// with "<member>: <content>" lines. A member that pauses pauses the team
// (with the member's requirements); a continue resumes that member and
// goes on with the next ones.
type Team struct {
	ID      string
	Members []string
}

type teamState struct {
	Next    int      `json:"next"`    // the member to run next (the paused one while paused)
	RunID   string   `json:"run_id"`  // the paused member's run
	Answers []string `json:"answers"` // the lines so far
	Message string   `json:"message"`
}

// Info implements core.Agent.
func (t *Team) Info() core.AgentInfo {
	members := make([]core.AgentInfo, len(t.Members))
	for i, m := range t.Members {
		members[i] = core.AgentInfo{ID: m, Name: m}
	}
	return core.AgentInfo{ID: t.ID, Name: "Team " + t.ID, Description: "runs its members in turn",
		Kind: core.KindTeam, Mode: "route", Members: members}
}

// Execute implements core.Agent.
func (t *Team) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	st := teamState{Message: x.Message}
	if x.Resume != nil {
		if err := json.Unmarshal(x.Resume.Runnable, &st); err != nil {
			return nil, err
		}
	}
	for st.Next < len(t.Members) {
		p := core.ChildParams{ID: t.Members[st.Next], Message: st.Message}
		if x.Resume != nil && st.RunID != "" {
			p = core.ChildParams{ID: t.Members[st.Next], RunID: st.RunID, Decisions: x.Resume.Pending}
			st.RunID = ""
		}
		child, err := x.RunChild(ctx, p)
		if err != nil {
			return nil, err
		}
		if out := pauseOf(child, &st.RunID, func() any { return st }); out != nil {
			return out, nil
		}
		if child.Status != core.RunCompleted {
			return nil, fmt.Errorf("member %s ended %s", child.AgentID, child.Status)
		}
		st.Answers = append(st.Answers, child.AgentID+": "+child.Content)
		st.Next++
	}
	content := strings.Join(st.Answers, "\n")
	if err := x.Emit(ctx, core.Event{Event: core.EventRunContent, Content: content}); err != nil {
		return nil, err
	}
	return &core.Outcome{Content: content}, nil
}

// pauseOf returns the parent's pause when child paused (recording its run
// id in *runID before state is marshalled), else nil.
func pauseOf(child *core.Run, runID *string, state func() any) *core.Outcome {
	if child.Status != core.RunPaused || child.Paused == nil {
		return nil
	}
	*runID = child.RunID
	b, _ := json.Marshal(state())
	reqs := make([]core.RunRequirement, len(child.Requirements))
	for i, r := range child.Requirements {
		r.MemberAgentID, r.MemberAgentName, r.MemberRunID = child.AgentID, child.AgentName, child.RunID
		reqs[i] = r
	}
	return &core.Outcome{Paused: &core.PausedState{Pending: child.Paused.Pending, Runnable: b}, Requirements: reqs}
}

// Workflow runs its steps in order, each an agent run as a child with the
// previous step's content as its message, emitting StepStarted and
// StepCompleted around each; it answers with the last step's content. A
// step whose agent pauses pauses the workflow.
type Workflow struct {
	ID    string
	Steps []string // agent ids, one per step
}

type workflowState struct {
	Step  int    `json:"step"`
	RunID string `json:"run_id"`
	Input string `json:"input"`
}

// Info implements core.Agent.
func (w *Workflow) Info() core.AgentInfo {
	steps := make([]core.StepInfo, len(w.Steps))
	for i, s := range w.Steps {
		steps[i] = core.StepInfo{Name: stepName(i), StepType: "step", Executor: &core.Ref{Kind: core.KindAgent, ID: s}}
	}
	return core.AgentInfo{ID: w.ID, Name: "Workflow " + w.ID, Description: "runs its steps in order",
		Kind: core.KindWorkflow, Steps: steps}
}

func stepName(i int) string { return fmt.Sprintf("step-%d", i+1) }

// Execute implements core.Agent.
func (w *Workflow) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	st := workflowState{Input: x.Message}
	resuming := false
	if x.Resume != nil {
		if err := json.Unmarshal(x.Resume.Runnable, &st); err != nil {
			return nil, err
		}
		resuming = true
	}
	for ; st.Step < len(w.Steps); st.Step++ {
		name, idx := stepName(st.Step), st.Step
		p := core.ChildParams{ID: w.Steps[st.Step], Message: st.Input, StepID: name, StepName: name, StepIndex: &idx}
		if resuming {
			p.RunID, p.Decisions, p.Message = st.RunID, x.Resume.Pending, ""
			resuming, st.RunID = false, ""
		} else if err := x.Emit(ctx, core.Event{Event: core.EventStepStarted, StepName: name, StepIndex: &idx}); err != nil {
			return nil, err
		}
		child, err := x.RunChild(ctx, p)
		if err != nil {
			return nil, err
		}
		if out := pauseOf(child, &st.RunID, func() any { return st }); out != nil {
			return out, nil
		}
		if child.Status != core.RunCompleted {
			return nil, fmt.Errorf("step %s ended %s", name, child.Status)
		}
		st.Input = child.Content
		if err := x.Emit(ctx, core.Event{Event: core.EventStepCompleted, StepName: name, StepIndex: &idx, Content: child.Content}); err != nil {
			return nil, err
		}
	}
	return &core.Outcome{Content: st.Input}, nil
}

// All returns the standard set: agents "echo" and "approver", team "crew"
// (echo then approver), team "duo" (echo only), workflow "pipeline" (echo,
// echo) and workflow "gated" (echo then approver).
func All() []core.Runnable {
	return []core.Runnable{
		&Echo{ID: "echo", Prefix: "echo: "}, &Approver{ID: "approver"},
		&Team{ID: "crew", Members: []string{"echo", "approver"}}, &Team{ID: "duo", Members: []string{"echo"}},
		&Workflow{ID: "pipeline", Steps: []string{"echo", "echo"}}, &Workflow{ID: "gated", Steps: []string{"echo", "approver"}},
	}
}
