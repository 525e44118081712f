package team

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model"
)

// Names of the leader's tools.
const (
	ToolDelegate        = "delegate_task_to_member"
	ToolCreateTask      = "create_task"
	ToolUpdateTask      = "update_task"
	ToolExecuteTask     = "execute_task"
	ToolMarkAllComplete = "mark_all_complete"
)

// leaderTools are the tools the leader's model is offered in the team's
// mode (none in broadcast).
func (t *Team) leaderTools() []core.ToolInfo {
	ids := make([]any, 0, len(t.cfg.Members))
	for _, m := range t.cfg.Members {
		ids = append(ids, m.ID)
	}
	member := map[string]any{"type": "string", "enum": ids, "description": "The id of the member."}
	str := func(d string) map[string]any { return map[string]any{"type": "string", "description": d} }
	obj := func(props map[string]any, req ...string) map[string]any {
		return map[string]any{"type": "object", "properties": props, "required": req}
	}
	switch t.cfg.Mode {
	case Coordinate, Route:
		return []core.ToolInfo{{Name: ToolDelegate,
			Description: "Delegate a task to one member of the team and get back its answer.",
			Parameters:  obj(map[string]any{"member_id": member, "task": str("What the member should do, with the context it needs.")}, "member_id", "task")}}
	case Tasks:
		return []core.ToolInfo{
			{Name: ToolCreateTask, Description: "Add a task to the task list, assigned to a member.",
				Parameters: obj(map[string]any{"title": str("A short title."), "description": str("What to do."), "assignee": member}, "title", "assignee")},
			{Name: ToolUpdateTask, Description: "Change a task's status (pending, in_progress, completed, failed) or result.",
				Parameters: obj(map[string]any{"task_id": str("The task's id."),
					"status": map[string]any{"type": "string", "enum": []any{taskPending, taskInProgress, taskCompleted, taskFailed}},
					"result": str("The task's result or a note.")}, "task_id")},
			{Name: ToolExecuteTask, Description: "Have the task's assignee do it; the task is completed with its answer.",
				Parameters: obj(map[string]any{"task_id": str("The task's id.")}, "task_id")},
			{Name: ToolMarkAllComplete, Description: "Declare the goal met, with a summary of the outcome.",
				Parameters: obj(map[string]any{"summary": str("What was achieved.")}, "summary")},
		}
	}
	return nil
}

// lead runs the leader's loop (coordinate, route and tasks modes), or
// resumes it after the member that paused it.
func (t *Team) lead(ctx context.Context, x *core.Execution, st *state) (*core.Outcome, error) {
	if x.Resume != nil {
		pm := st.Paused
		st.Paused = nil
		if pm.Call == nil {
			return nil, fmt.Errorf("team %s: the paused state names no leader tool call", t.cfg.ID)
		}
		child, err := t.resumeMember(ctx, x, st, pm, x.Resume.Pending)
		if err != nil {
			return nil, err
		}
		res, again, err := t.settle(ctx, st, pm.Member, child)
		if err == nil && again == nil && pm.TaskID != "" {
			res, err = t.taskDone(ctx, x, st, pm.TaskID, res)
		}
		res.routed = t.cfg.Mode == Route && err == nil && again == nil && !res.failed
		if err != nil {
			t.callFailed(ctx, x, *pm.Call, err)
			return nil, err
		}
		if again != nil {
			again.Call, again.TaskID = pm.Call, pm.TaskID
			return t.paused(st, again)
		}
		if err := t.endCall(ctx, x, st, *pm.Call, res); err != nil {
			return nil, err
		}
		if res.routed {
			return t.outcome(st, res.content), nil
		}
		if out, err := t.calls(ctx, x, st); out != nil || err != nil {
			return out, err
		}
		if t.cfg.Mode == Tasks {
			if err := t.emitIteration(ctx, x, core.EventTeamTaskIterationCompleted, st.Iteration); err != nil {
				return nil, err
			}
		}
	} else {
		now := time.Now().Unix()
		st.Messages = append(st.Messages, core.Message{Role: "system", Content: t.roster(), CreatedAt: now})
		st.Messages = append(st.Messages, x.History...)
		st.RunStart = len(st.Messages)
		st.Messages = append(st.Messages, core.Message{Role: "user", Content: x.Message, Media: inputMedia(x), CreatedAt: now})
	}
	for {
		if t.cfg.Mode == Tasks {
			if st.Iteration >= t.cfg.MaxIterations {
				return t.outcome(st, t.taskSummary(st)), nil
			}
			st.Iteration++
			if err := t.emitIteration(ctx, x, core.EventTeamTaskIterationStarted, st.Iteration); err != nil {
				return nil, err
			}
		} else if st.Turns >= t.cfg.MaxTurns {
			return nil, &core.AgentError{Type: "max_turns", Err: fmt.Errorf("the team's leader made %d model requests without a final answer", st.Turns)}
		}
		st.Turns++
		resp, err := t.ask(ctx, x, st, t.tools)
		if err != nil {
			return nil, err
		}
		st.Messages = append(st.Messages, core.Message{Role: "assistant", Content: resp.Content, ToolCalls: resp.ToolCalls, CreatedAt: time.Now().Unix()})
		if len(resp.ToolCalls) == 0 {
			if err := x.Emit(ctx, core.Event{Event: core.EventRunContentCompleted}); err != nil {
				return nil, err
			}
			if t.cfg.Mode == Tasks {
				if err := t.emitIteration(ctx, x, core.EventTeamTaskIterationCompleted, st.Iteration); err != nil {
					return nil, err
				}
			}
			return t.outcome(st, resp.Content), nil
		}
		st.Calls = slices.Clone(resp.ToolCalls)
		if out, err := t.calls(ctx, x, st); out != nil || err != nil {
			return out, err
		}
		if t.cfg.Mode == Tasks {
			if err := t.emitIteration(ctx, x, core.EventTeamTaskIterationCompleted, st.Iteration); err != nil {
				return nil, err
			}
		}
	}
}

func (t *Team) emitIteration(ctx context.Context, x *core.Execution, ev core.EventType, i int) error {
	return x.Emit(ctx, core.Event{Event: ev, EventDetail: &core.EventDetail{Iteration: i, MaxIterations: t.cfg.MaxIterations}})
}

// ask makes one model request of the leader, streaming its content as
// the team's. The media of the run's input reach the leader's model as
// they reach an agent's (mediaprep).
func (t *Team) ask(ctx context.Context, x *core.Execution, st *state, tools []core.ToolInfo) (*model.Response, error) {
	msgs, err := st.media.Prepare(ctx, t.cfg.Model, x.Media, st.Messages, st.RunStart)
	if err != nil {
		return nil, err
	}
	resp, err := model.Stream(ctx, t.cfg.Model, model.Request{Messages: msgs, Tools: tools}, *t.info.Model, x.Emit)
	if err != nil {
		return nil, err
	}
	st.Metrics.Add(resp.Usage)
	return resp, nil
}

// calls executes the leader's pending tool calls of this turn in order.
// A non-nil outcome ends the run: the team paused (a member paused), or
// in route mode a member answered.
func (t *Team) calls(ctx context.Context, x *core.Execution, st *state) (*core.Outcome, error) {
	for len(st.Calls) > 0 {
		call := st.Calls[0]
		st.Calls = st.Calls[1:]
		te := core.ToolExecution{ToolCallID: call.ID, ToolName: call.Name, ToolArgs: call.Arguments, CreatedAt: time.Now().Unix()}
		started := te
		if err := x.Emit(ctx, core.Event{Event: core.EventToolCallStarted, Tool: &started}); err != nil {
			return nil, err
		}
		res, pm, err := t.handle(ctx, x, st, te)
		if err != nil {
			t.callFailed(ctx, x, te, err)
			return nil, err
		}
		if pm != nil {
			pm.Call = &te
			return t.paused(st, pm)
		}
		if err := t.endCall(ctx, x, st, te, res); err != nil {
			return nil, err
		}
		if res.routed {
			return t.outcome(st, res.content), nil
		}
	}
	return nil, nil
}

// endCall completes a leader's tool call: ToolCallCompleted, or
// ToolCallError when it failed; its result goes back to the leader.
func (t *Team) endCall(ctx context.Context, x *core.Execution, st *state, te core.ToolExecution, res result) error {
	te.Result, te.ToolCallError = res.content, res.failed
	done := te
	ev := core.Event{Event: core.EventToolCallCompleted, Tool: &done, Content: res.content}
	if res.failed {
		ev = core.Event{Event: core.EventToolCallError, Tool: &done, Error: res.content}
	}
	if err := x.Emit(ctx, ev); err != nil {
		return err
	}
	st.Tools = append(st.Tools, te)
	st.Messages = append(st.Messages, core.Message{Role: "tool", ToolCallID: te.ToolCallID, Name: te.ToolName, Content: res.content, CreatedAt: time.Now().Unix()})
	return nil
}

// callFailed ends a started tool call whose failure ends the run (a
// member failed under on_member_error fail, the run was cancelled): its
// ToolCallError is recorded even when ctx is done.
func (t *Team) callFailed(ctx context.Context, x *core.Execution, te core.ToolExecution, err error) {
	te.Result, te.ToolCallError = "Error: "+err.Error(), true
	_ = x.Emit(context.WithoutCancel(ctx), core.Event{Event: core.EventToolCallError, Tool: &te, Error: err.Error()})
}

// handle executes one leader tool call.
func (t *Team) handle(ctx context.Context, x *core.Execution, st *state, te core.ToolExecution) (result, *pausedMember, error) {
	var args map[string]any
	if len(te.ToolArgs) > 0 && string(te.ToolArgs) != "null" {
		if err := json.Unmarshal(te.ToolArgs, &args); err != nil {
			return result{content: "Error: the arguments are not a JSON object: " + err.Error(), failed: true}, nil, nil
		}
	}
	arg := func(k string) string { s, _ := args[k].(string); return s }
	switch {
	case te.ToolName == ToolDelegate && (t.cfg.Mode == Coordinate || t.cfg.Mode == Route):
		m, ok := t.members[arg("member_id")]
		if !ok {
			return result{content: fmt.Sprintf("Error: %q is not a member of this team (members: %s)", arg("member_id"), t.memberIDs()), failed: true}, nil, nil
		}
		child, err := t.runMember(ctx, x, st.State, m, arg("task"))
		if err != nil {
			return result{}, nil, err
		}
		res, pm, err := t.settle(ctx, st, m, child)
		res.routed = t.cfg.Mode == Route && !res.failed && pm == nil && err == nil
		return res, pm, err
	case t.cfg.Mode == Tasks:
		return t.taskTool(ctx, x, st, te.ToolName, arg)
	}
	return result{content: fmt.Sprintf("Error: unknown tool %q", te.ToolName), failed: true}, nil, nil
}

func (t *Team) memberIDs() string {
	s := ""
	for i, m := range t.cfg.Members {
		if i > 0 {
			s += ", "
		}
		s += m.ID
	}
	return s
}
