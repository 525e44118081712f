package team

import (
	"context"
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/core"
)

// Task statuses.
const (
	taskPending    = "pending"
	taskInProgress = "in_progress"
	taskCompleted  = "completed"
	taskFailed     = "failed"
)

// task is one entry of the tasks mode's task list.
type task struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Assignee    string `json:"assignee"`
	Status      string `json:"status"`
	Result      string `json:"result,omitempty"`
}

func (st *state) task(id string) *task {
	for i := range st.TaskList {
		if st.TaskList[i].ID == id {
			return &st.TaskList[i]
		}
	}
	return nil
}

// taskTool executes one of the tasks mode's tools.
func (t *Team) taskTool(ctx context.Context, x *core.Execution, st *state, name string, arg func(string) string) (result, *pausedMember, error) {
	bad := func(format string, a ...any) (result, *pausedMember, error) {
		return result{content: "Error: " + fmt.Sprintf(format, a...), failed: true}, nil, nil
	}
	switch name {
	case ToolCreateTask:
		if arg("title") == "" {
			return bad("a task needs a title")
		}
		if _, ok := t.members[arg("assignee")]; !ok {
			return bad("assignee %q is not a member of this team (members: %s)", arg("assignee"), t.memberIDs())
		}
		st.NextTask++
		tk := task{ID: fmt.Sprintf("task-%d", st.NextTask), Title: arg("title"), Description: arg("description"), Assignee: arg("assignee"), Status: taskPending}
		st.TaskList = append(st.TaskList, tk)
		if err := x.Emit(ctx, core.Event{Event: core.EventTeamTaskCreated, EventDetail: &core.EventDetail{TaskID: tk.ID, Title: tk.Title, Description: tk.Description,
			Assignee: tk.Assignee, TaskStatus: tk.Status}}); err != nil {
			return result{}, nil, err
		}
		if err := t.emitState(ctx, x, st); err != nil {
			return result{}, nil, err
		}
		return result{content: fmt.Sprintf("Created %s %q, assigned to %s.", tk.ID, tk.Title, tk.Assignee)}, nil, nil
	case ToolUpdateTask:
		tk := st.task(arg("task_id"))
		if tk == nil {
			return bad("no task %q", arg("task_id"))
		}
		switch s := arg("status"); s {
		case "":
		case taskPending, taskInProgress, taskCompleted, taskFailed:
			tk.Status = s
		default:
			return bad("status %q: want pending, in_progress, completed or failed", s)
		}
		if r := arg("result"); r != "" {
			tk.Result = r
		}
		if err := t.emitTask(ctx, x, st, tk); err != nil {
			return result{}, nil, err
		}
		return result{content: fmt.Sprintf("%s is %s.", tk.ID, tk.Status)}, nil, nil
	case ToolExecuteTask:
		tk := st.task(arg("task_id"))
		if tk == nil {
			return bad("no task %q", arg("task_id"))
		}
		if tk.Status == taskCompleted {
			return bad("%s is already completed", tk.ID)
		}
		m := t.members[tk.Assignee]
		tk.Status = taskInProgress
		if err := t.emitTask(ctx, x, st, tk); err != nil {
			return result{}, nil, err
		}
		msg := tk.Title
		if tk.Description != "" {
			msg += "\n\n" + tk.Description
		}
		child, err := t.runMember(ctx, x, st.State, m, msg)
		if err != nil {
			return result{}, nil, err
		}
		res, pm, err := t.settle(ctx, st, m, child)
		if err != nil || pm != nil {
			if pm != nil {
				pm.TaskID = tk.ID
			}
			return res, pm, err
		}
		res, err = t.taskDone(ctx, x, st, tk.ID, res)
		return res, nil, err
	case ToolMarkAllComplete:
		st.GoalComplete, st.Summary = true, arg("summary")
		if err := t.emitState(ctx, x, st); err != nil {
			return result{}, nil, err
		}
		return result{content: "The goal is marked complete."}, nil, nil
	}
	return bad("unknown tool %q", name)
}

// taskDone records the answer of the member that executed task id.
func (t *Team) taskDone(ctx context.Context, x *core.Execution, st *state, id string, res result) (result, error) {
	tk := st.task(id)
	if tk == nil {
		return res, fmt.Errorf("team %s: task %s vanished from the paused state", t.cfg.ID, id)
	}
	tk.Status, tk.Result = taskCompleted, res.content
	if res.failed {
		tk.Status = taskFailed
	}
	return res, t.emitTask(ctx, x, st, tk)
}

// emitTask emits TeamTaskUpdated for tk, then the list's state.
func (t *Team) emitTask(ctx context.Context, x *core.Execution, st *state, tk *task) error {
	if err := x.Emit(ctx, core.Event{Event: core.EventTeamTaskUpdated, EventDetail: &core.EventDetail{TaskID: tk.ID, Title: tk.Title,
		Assignee: tk.Assignee, TaskStatus: tk.Status, TaskResult: tk.Result}}); err != nil {
		return err
	}
	return t.emitState(ctx, x, st)
}

// emitState emits TeamTaskStateUpdated: the list's summary and whether the
// goal is complete.
func (t *Team) emitState(ctx context.Context, x *core.Execution, st *state) error {
	done := st.GoalComplete
	return x.Emit(ctx, core.Event{Event: core.EventTeamTaskStateUpdated, EventDetail: &core.EventDetail{TaskSummary: t.taskSummary(st), GoalComplete: &done}})
}

// taskSummary describes the task list, one line a task, after the goal's
// summary when there is one.
func (t *Team) taskSummary(st *state) string {
	var b strings.Builder
	if st.Summary != "" {
		b.WriteString(st.Summary)
		b.WriteString("\n")
	}
	for _, tk := range st.TaskList {
		fmt.Fprintf(&b, "- [%s] %s %s (%s)", tk.Status, tk.ID, tk.Title, tk.Assignee)
		if tk.Result != "" {
			fmt.Fprintf(&b, ": %s", oneLine(tk.Result, 200))
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
