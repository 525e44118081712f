package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/core"
)

// Pause kinds of a pausedStep.
const (
	pauseStep     = "step"     // the step's own confirmation or user input
	pauseExecutor = "executor" // the agent or team it ran paused
)

// step runs a step of type step: its confirmation or user input first,
// then its agent, team or function.
func (r *runner) step(ctx context.Context, n *node, k, in string) (*StepResult, error) {
	res := StepResult{StepName: n.Name, StepID: n.id, StepType: "Step"}
	r.mu.Lock()
	p, resuming := r.resuming[k]
	r.mu.Unlock()
	var userInput map[string]any
	switch {
	case resuming && p.Kind == pauseStep:
		d := r.decided[n.id]
		if d.Confirmed != nil && !*d.Confirmed {
			// Rejected: the step is skipped, the next one gets its input.
			res.Success, res.Skipped, res.Content = true, true, in
			if err := r.emit(ctx, n, core.Event{Event: core.EventStepCompleted, Content: "", Reason: "rejected"}); err != nil {
				return nil, err
			}
			r.record(k, res)
			return &res, nil
		}
		if n.RequiresUserInput {
			userInput = map[string]any{}
			for _, f := range d.UserInputSchema {
				userInput[f.Name] = f.Value
			}
		}
	case !resuming && (n.RequiresConfirmation || n.RequiresUserInput):
		return nil, r.pauseForHuman(ctx, n, k)
	}
	msg := in
	if n.input != nil {
		var err error
		if msg, err = n.input.Text(r.env(in, iterationOf(k), userInput)); err != nil {
			return r.fail(ctx, n, k, in, res, err)
		}
	}
	if resuming && p.Kind == pauseExecutor {
		if err := r.emit(ctx, n, core.Event{Event: core.EventStepExecutorContinued}); err != nil {
			return nil, err
		}
	} else if err := r.emit(ctx, n, core.Event{Event: core.EventStepStarted}); err != nil {
		return nil, err
	}
	var content string
	if n.Func != nil {
		out, err := r.call(ctx, n, StepInput{Input: r.input, PreviousContent: in, Message: msg,
			Previous: r.previous(), UserInput: userInput, SessionState: r.x.SessionState, Media: r.media})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return r.fail(ctx, n, k, in, res, err)
		}
		res.ExecutorType, res.ExecutorName, content = "function", n.Func.Name, out.Content
	} else {
		cp := core.ChildParams{Kind: core.KindAgent, ID: n.Agent, StepID: n.id, StepName: n.Name, SessionState: r.x.SessionState}
		res.ExecutorType, res.ExecutorName = "agent", n.Agent
		if n.Team != "" {
			cp.Kind, cp.ID = core.KindTeam, n.Team
			res.ExecutorType, res.ExecutorName = "team", n.Team
		}
		i := n.index
		cp.StepIndex = &i
		if resuming && p.Kind == pauseExecutor {
			cp.RunID = p.ChildRunID
			for _, id := range p.ToolIDs {
				if d, ok := r.decided[id]; ok {
					cp.Decisions = append(cp.Decisions, d)
				}
			}
		} else {
			cp.Message, cp.Media = withUserInput(msg, userInput), r.media
		}
		if r.x.RunChild == nil {
			return nil, errors.New("workflow: executed outside the engine (no RunChild)")
		}
		child, err := r.x.RunChild(ctx, cp)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return r.fail(ctx, n, k, in, res, err)
		}
		res.StepRunID = child.RunID
		switch child.Status {
		case core.RunCompleted:
			content = child.Content
		case core.RunPaused:
			return nil, r.pauseForExecutor(ctx, n, k, child)
		case core.RunCancelled:
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return r.fail(ctx, n, k, in, res, fmt.Errorf("%s %s was cancelled", cp.Kind, cp.ID))
		default:
			msg := child.Error
			if msg == "" {
				msg = fmt.Sprintf("%s %s ended %s", cp.Kind, cp.ID, child.Status)
			}
			return r.fail(ctx, n, k, in, res, errors.New(msg))
		}
	}
	res.Content, res.Success = content, true
	if err := r.emit(ctx, n, core.Event{Event: core.EventStepCompleted, Content: content}); err != nil {
		return nil, err
	}
	r.record(k, res)
	return &res, nil
}

// call runs a function step, a panic being its failure.
func (r *runner) call(ctx context.Context, n *node, in StepInput) (out StepOutput, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("function %s panicked: %v", n.Func.Name, p)
		}
	}()
	return n.Func.Fn(ctx, in)
}

// fail emits StepError and applies the step's on_error.
func (r *runner) fail(ctx context.Context, n *node, k, in string, res StepResult, err error) (*StepResult, error) {
	if e := r.emit(ctx, n, core.Event{Event: core.EventStepError, Error: err.Error(), Content: err.Error()}); e != nil {
		return nil, e
	}
	return r.afterFailure(n, k, in, res, err)
}

// withUserInput appends the values a user supplied to an agent's input.
func withUserInput(msg string, in map[string]any) string {
	if len(in) == 0 {
		return msg
	}
	var b strings.Builder
	b.WriteString(msg)
	b.WriteString("\n\nUser input:")
	for _, name := range sortedKeys(in) {
		fmt.Fprintf(&b, "\n- %s: %v", name, in[name])
	}
	return b.String()
}

// pauseForHuman pauses before n for its confirmation or user input: it
// emits StepPaused and adds a synthetic pending tool call whose
// tool_call_id is the step's id.
func (r *runner) pauseForHuman(ctx context.Context, n *node, k string) error {
	req := StepRequirement{StepID: n.id, StepName: n.Name, StepIndex: n.index, StepType: "Step",
		RequiresConfirmation: n.RequiresConfirmation, ConfirmationMessage: n.ConfirmationMessage,
		RequiresUserInput: n.RequiresUserInput, UserInputMessage: n.UserInputMessage,
		UserInputSchema: append([]core.UserInputField(nil), n.UserInputSchema...)}
	sj, _ := json.Marshal([]StepRequirement{req})
	idx := n.index
	if err := r.emit(ctx, n, core.Event{Event: core.EventStepPaused, EventDetail: &core.EventDetail{
		RequiresConfirmation: n.RequiresConfirmation, ConfirmationMessage: n.ConfirmationMessage,
		RequiresUserInput: n.RequiresUserInput, UserInputMessage: n.UserInputMessage, UserInputSchema: req.UserInputSchema,
		PausedStepIndex: &idx, PausedStepName: n.Name, StepRequirements: sj,
	}}); err != nil {
		return err
	}
	t := req.toolCall()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.Paused = append(r.st.Paused, pausedStep{Key: k, Kind: pauseStep, Req: req, ToolIDs: []string{t.ToolCallID}})
	r.pending = append(r.pending, t)
	r.reqs = append(r.reqs, core.RunRequirement{ID: t.ToolCallID, ToolExecution: &t, UserInputSchema: t.UserInputSchema})
	return errPaused
}

// pauseForExecutor pauses the workflow because the agent or team n ran
// paused: the child's pending calls become the workflow's, its
// requirements name the child run.
func (r *runner) pauseForExecutor(ctx context.Context, n *node, k string, child *core.Run) error {
	kind := child.Kind()
	id, name := child.RunnableID(), child.AgentName
	if kind == core.KindTeam {
		name = child.TeamName
	}
	var pending []core.ToolExecution
	if child.Paused != nil {
		pending = child.Paused.Pending
	}
	reqs := make([]core.RunRequirement, len(child.Requirements))
	for i, q := range child.Requirements {
		if q.MemberRunID == "" {
			q.MemberAgentID, q.MemberAgentName, q.MemberRunID = id, name, child.RunID
		}
		reqs[i] = q
	}
	req := StepRequirement{StepID: n.id, StepName: n.Name, StepIndex: n.index, StepType: "Step",
		RequiresExecutorInput: true, ExecutorRequirements: reqs, ExecutorID: id, ExecutorName: name,
		ExecutorRunID: child.RunID, ExecutorType: string(kind)}
	ids := make([]string, 0, len(pending))
	for _, t := range pending {
		ids = append(ids, t.ToolCallID)
	}
	if err := r.emit(ctx, n, core.Event{Event: core.EventStepExecutorPaused, Requirements: reqs}); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.Paused = append(r.st.Paused, pausedStep{Key: k, Kind: pauseExecutor, Req: req, ChildRunID: child.RunID, ToolIDs: ids})
	r.pending = append(r.pending, pending...)
	r.reqs = append(r.reqs, reqs...)
	return errPaused
}
