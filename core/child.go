package core

import (
	"context"
	"errors"
	"fmt"
	"maps"
)

// ChildParams runs a runnable as a child of the executing run: a team's
// member or a workflow's step. The child is a run of its own (stored,
// listable, with parent_run_id); its events go into the parent's stream
// (dense indices on the parent) labelled with the child's ids, so resume,
// cancel and continue of the parent cover it.
type ChildParams struct {
	Kind Kind // empty: an agent
	ID   string
	// Message is the child's input.
	Message string
	// Media are the media the child's input carries (a team's or a
	// workflow's run input media, as agno gives them to members and
	// steps): its model gets them as an agent's own run input's, and the
	// child run's stored input lists them. They are references the
	// parent's session already carries. Ignored when RunID continues a
	// child (its input is as it was stored).
	Media []MediaRef
	// KnowledgeFilters restrict the child's knowledge searches as its run
	// input's (a team's run filters, as agno hands them to its members);
	// nil: none. Ignored when RunID continues a child.
	KnowledgeFilters map[string]any
	// History is the conversation the child starts from (none by default).
	History []Message
	// RunID continues the paused child run RunID (a child of this run)
	// instead of starting one, with Decisions on its pending tool calls
	// (as Continue takes them).
	RunID     string
	Decisions []ToolExecution
	// StepID, StepName and StepIndex label a workflow step's child.
	StepID    string
	StepName  string
	StepIndex *int
	// SessionState is what the child sees as the session's state.
	SessionState map[string]any
	// Quiet keeps the child's own events out of the parent's stream except
	// its start and end (agno's stream_member_events off).
	Quiet bool
}

// MaxNestedDepth bounds how deep children nest (a team of teams of …).
const MaxNestedDepth = 8

// childRunner returns the Execution.RunChild of an execution of parent
// whose events go through emit.
func (e *Engine) childRunner(parent *Run, emit func(context.Context, Event) error) func(context.Context, ChildParams) (*Run, error) {
	return func(ctx context.Context, p ChildParams) (*Run, error) {
		return e.runChild(ctx, parent, emit, p)
	}
}

func (e *Engine) runChild(ctx context.Context, parent *Run, emit func(context.Context, Event) error, p ChildParams) (*Run, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a, err := e.Runnable(p.Kind, p.ID)
	if err != nil {
		return nil, err
	}
	bg := context.WithoutCancel(ctx)
	now := e.now()
	var child *Run
	var resume *PausedState
	// created reports the child's first write: made off the child's path
	// (its events need not wait for it), and waited for before its end is
	// stored.
	created := make(chan error, 1)
	if p.RunID != "" {
		created <- nil
		child, err = e.store.GetRun(ctx, p.RunID)
		if errors.Is(err, ErrNotFound) {
			return nil, Errorf(CodeNotFound, "child run %q not found", p.RunID)
		}
		if err != nil {
			return nil, err
		}
		if child.ParentRunID != parent.RunID {
			return nil, Errorf(CodeInvalid, "run %s is not a child of run %s", p.RunID, parent.RunID)
		}
		if child.Status != RunPaused || child.Paused == nil {
			return nil, Errorf(CodeConflict, "child run %s is %s, not PAUSED", child.RunID, child.Status)
		}
		if resume, err = resumeState(child, p.Decisions); err != nil {
			return nil, err
		}
		child.Status, child.Paused, child.UpdatedAt = RunRunning, resume, now
		if err := e.store.UpdateRun(ctx, child, UpdateRunParams{IfStatus: []RunStatus{RunPaused}}); err != nil {
			return nil, fmt.Errorf("continue child run: %w", err)
		}
	} else {
		if parent.NestedDepth+1 > MaxNestedDepth {
			return nil, Errorf(CodeInvalid, "runs nest deeper than %d levels", MaxNestedDepth)
		}
		child = &Run{
			RunID: e.cfg.NewID(), SessionID: parent.SessionID, UserID: parent.UserID,
			ParentRunID: parent.RunID, NestedDepth: parent.NestedDepth + 1,
			Status: RunRunning, Input: NewRunInput(p.Message, childMedia(p.Media)), Background: parent.Background,
			StepID: p.StepID, StepName: p.StepName, StepIndex: p.StepIndex,
			CreatedAt: now, UpdatedAt: now,
		}
		child.Input.KnowledgeFilters = maps.Clone(p.KnowledgeFilters)
		child.setRunnable(a.Info())
		if child.WorkflowID == "" && parent.WorkflowID != "" {
			// A step's executor (and what it runs) belongs to the workflow.
			child.WorkflowID, child.WorkflowName = parent.WorkflowID, parent.WorkflowName
		}
		first := *child
		go func() { created <- e.store.CreateRun(bg, &first) }()
	}
	if len(e.runObservers) > 0 {
		// The child's events reach the observers through its parent's
		// stream; its span descends from the parent's context.
		for _, o := range e.runObservers {
			ctx = o.RunBegin(ctx, child, ExecInfo{Interface: "child", Continue: resume != nil})
		}
		octx := ctx
		defer func() {
			var err error
			if child.Status == RunError && child.Error != "" {
				err = &AgentError{Type: child.ErrorType, Err: errString(child.Error)}
			}
			for _, o := range e.runObservers {
				o.RunEnd(octx, child, child.Status, err)
			}
		}()
	}
	kind := child.Kind()
	cemit := func(ctx context.Context, ev Event) error {
		if !ev.Forwarded() { // the child's own event
			child.stamp(&ev)
			ev.Event = ev.Event.ForKind(kind)
			if p.Quiet && !ev.Event.EndsSegment() && ev.Base() != EventRunStarted && ev.Base() != EventRunContinued {
				return nil
			}
		}
		return emit(ctx, ev)
	}
	start := Event{Event: EventRunStarted, Model: child.Model, ModelProvider: child.ModelProvider}
	if resume != nil {
		start = Event{Event: EventRunContinued}
	}
	if err := cemit(bg, start); err != nil {
		return e.endChild(bg, child, created, cemit, nil, err)
	}
	snapshot := *child
	out, xerr := e.safeExecute(ctx, a, &Execution{
		Run: &snapshot, Message: p.Message, History: p.History, Resume: resume,
		Emit: cemit, SessionState: p.SessionState, RunChild: e.childRunner(child, cemit),
		Media: e.cfg.Media, StoreMedia: e.mediaStorer(child.SessionID, child.UserID),
	})
	if xerr == nil && ctx.Err() != nil {
		xerr = ctx.Err()
	}
	return e.endChild(bg, child, created, cemit, out, xerr)
}

// childMedia are a child's input media: the parent's references, without
// what belongs to one rendering or one request (URL, Data).
func childMedia(refs []MediaRef) []MediaRef {
	if len(refs) == 0 {
		return nil
	}
	out := make([]MediaRef, len(refs))
	for i, m := range refs {
		m.URL, m.Data = "", nil
		out[i] = m
	}
	return out
}

// endChild stores the child's end and appends its ending event; it returns
// the child as it ended. Only a failure to store or append is an error: a
// child that failed is a child run in ERROR.
func (e *Engine) endChild(ctx context.Context, child *Run, created <-chan error, emit func(context.Context, Event) error, out *Outcome, xerr error) (*Run, error) {
	var ev Event
	switch {
	case xerr != nil && (errors.Is(xerr, context.Canceled) || errors.Is(xerr, context.DeadlineExceeded)):
		child.Status = RunCancelled
		ev = Event{Event: EventRunCancelled, Reason: "parent run cancelled"}
	case xerr != nil:
		typ := "internal_error"
		var ae *AgentError
		if errors.As(xerr, &ae) && ae.Type != "" {
			typ = ae.Type
		}
		child.Status, child.Error, child.ErrorType = RunError, xerr.Error(), typ
		ev = Event{Event: EventRunError, Content: child.Error, ErrorType: typ, ErrorID: e.cfg.NewID()}
	case out == nil:
		child.Status, child.Error, child.ErrorType = RunError, "runnable returned no outcome", "internal_error"
		ev = Event{Event: EventRunError, Content: child.Error, ErrorType: child.ErrorType, ErrorID: e.cfg.NewID()}
	case out.Paused != nil:
		ev = e.applyPaused(child, out)
	default:
		ev = applyCompleted(child, out)
	}
	child.UpdatedAt = e.now()
	if err := <-created; err != nil {
		return nil, fmt.Errorf("create child run %s: %w", child.RunID, err)
	}
	if err := e.store.UpdateRun(ctx, child, UpdateRunParams{IfStatus: []RunStatus{RunRunning}}); err != nil {
		return nil, fmt.Errorf("store child run %s: %w", child.RunID, err)
	}
	if err := emit(ctx, ev); err != nil {
		return nil, err
	}
	r := *child
	return &r, nil
}

// applyCompleted sets run's completed state from out and returns its
// RunCompleted event.
func applyCompleted(run *Run, out *Outcome) Event {
	run.Status = RunCompleted
	run.Content, run.ContentType = out.Content, "str"
	run.Messages, run.Tools, run.Paused, run.Requirements = out.Messages, out.Tools, nil, nil
	m := out.Metrics
	run.Metrics = &m
	if out.SessionState != nil {
		run.SessionState = out.SessionState
	}
	if out.StepResults != nil {
		run.StepResults = out.StepResults
	}
	ev := Event{Event: EventRunCompleted, Content: out.Content, ContentType: "str", Metrics: &m,
		SessionState: out.SessionState, StepResults: out.StepResults}
	if out.References != nil {
		run.References = out.References
		ev.EventDetail = &EventDetail{References: out.References}
	}
	if media := ToolMedia(out.Tools); media.All() != nil {
		run.RunMedia = media
		ev.Detail().RunMedia = media
	}
	return ev
}

// applyPaused sets run's paused state from out and returns its RunPaused
// event. The requirements are the pending tool calls, or, when out names
// them (a team whose member paused), out's own.
func (e *Engine) applyPaused(run *Run, out *Outcome) Event {
	run.Status = RunPaused
	run.Paused = out.Paused
	run.Messages, run.Tools = out.Messages, out.Tools
	if out.Requirements != nil {
		run.Requirements = out.Requirements
	} else {
		run.Requirements = make([]RunRequirement, 0, len(out.Paused.Pending))
		for i := range out.Paused.Pending {
			t := out.Paused.Pending[i]
			run.Requirements = append(run.Requirements, RunRequirement{ID: t.ToolCallID, CreatedAt: e.now(), ToolExecution: &t, UserInputSchema: t.UserInputSchema})
		}
	}
	e.pauseApprovals(run)
	m := out.Metrics
	run.Metrics = &m
	if out.SessionState != nil {
		run.SessionState = out.SessionState
	}
	if out.StepResults != nil {
		run.StepResults = out.StepResults
	}
	ev := Event{Event: EventRunPaused, Tools: out.Paused.Pending, Requirements: run.Requirements,
		StepResults: out.StepResults}
	if p := out.PausedStep; p != nil && p.EventDetail != nil {
		ev.EventDetail = &EventDetail{PausedStepIndex: p.PausedStepIndex, PausedStepName: p.PausedStepName, StepRequirements: p.StepRequirements}
	}
	return ev
}

// stamp fills ev's ids from run (an event of run's own).
func (r *Run) stamp(ev *Event) {
	ev.RunID, ev.SessionID = r.RunID, r.SessionID
	ev.AgentID, ev.AgentName = r.AgentID, r.AgentName
	ev.TeamID, ev.TeamName = r.TeamID, r.TeamName
	ev.WorkflowID, ev.WorkflowName = r.WorkflowID, r.WorkflowName
	ev.ParentRunID, ev.NestedDepth = r.ParentRunID, r.NestedDepth
	if r.ParentRunID != "" {
		ev.StepID, ev.StepName, ev.StepIndex = r.StepID, r.StepName, r.StepIndex
	}
}

// endChildren ends the children of parent that are still RUNNING or
// PAUSED (their parent ended, or its executor vanished) with status, in the
// store only: their events were the parent's, whose stream already ended.
func (e *Engine) endChildren(ctx context.Context, parentID string, status RunStatus, errType, msg string) {
	kids, err := e.store.ListRuns(ctx, ListRunsParams{ParentRunID: parentID})
	if err != nil {
		e.logger.Warn("list child runs", "run_id", parentID, "err", err)
		return
	}
	for _, k := range kids {
		if k.Status.Final() {
			continue
		}
		e.endChildren(ctx, k.RunID, status, errType, msg)
		wasPaused := k.Status == RunPaused
		k.Status, k.LeaseOwner, k.LeaseUntil, k.UpdatedAt = status, "", 0, e.now()
		if status == RunError {
			k.Error, k.ErrorType = msg, errType
		}
		if err := e.store.UpdateRun(ctx, k, UpdateRunParams{IfStatus: []RunStatus{RunRunning, RunPaused}}); err != nil {
			if !errors.Is(err, ErrConflict) {
				e.logger.Warn("end child run", "run_id", k.RunID, "err", err)
			}
			continue
		}
		if wasPaused {
			e.cancelPaused(ctx, k) // a paused member's remote task, say
		}
	}
}
