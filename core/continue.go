package core

import (
	"context"
	"errors"
)

// ContinueParams carries the decisions on a paused run's tools, in agno's
// form: the paused tool executions with Confirmed (and an optional
// ConfirmationNote) set.
type ContinueParams struct {
	RunID string
	Tools []ToolExecution
	// Approver is who continues (the caller's identity): the resolved_by
	// of the approvals the continue resolves or records.
	Approver string
	// CanApprove: the caller may resolve the run's approvals, so a pending
	// one does not refuse the continue; the caller's decisions resolve it.
	CanApprove bool
	// Interface and TraceCarrier are as StartParams'.
	Interface    string
	TraceCarrier map[string]string
	// Media are files given with the continue (stored, as StartParams'):
	// they join the run's input, which the model sees on the continued
	// turns.
	Media []MediaRef
	// MediaSource is as StartParams'.
	MediaSource MediaRestorer
}

// Continue resumes a paused run. It appends RunContinued to the same stream
// and executes the rest of the run on this process. It returns the run and
// the index of the RunPaused event, so the caller can Subscribe after it.
func (e *Engine) Continue(ctx context.Context, p ContinueParams) (*Run, int64, error) {
	return e.continueRun(ctx, p, nil)
}

// ContinueStream is Continue for a caller that follows the rest of the run:
// the stream it returns (after the RunPaused event) is fed by the executor,
// as StartStream's is. It also returns the index of the RunPaused event.
func (e *Engine) ContinueStream(ctx context.Context, p ContinueParams) (*Run, int64, *Stream, error) {
	f := newFeed()
	run, pausedAt, err := e.continueRun(ctx, p, f)
	if err != nil {
		return nil, 0, nil, err
	}
	return run, pausedAt, &Stream{feed: f, log: e.log, e: e, runID: run.RunID, last: pausedAt}, nil
}

// continueRun is Continue, feeding the events to f (nil: none).
func (e *Engine) continueRun(ctx context.Context, p ContinueParams, f *feed) (*Run, int64, error) {
	select {
	case <-e.closed:
		return nil, 0, Errorf(CodeUnavailable, "server is shutting down")
	default:
	}
	run, err := e.Get(ctx, p.RunID)
	if err != nil {
		return nil, 0, err
	}
	if run.Status != RunPaused || run.Paused == nil {
		return nil, 0, Errorf(CodeConflict, "run %s is %s, not PAUSED", run.RunID, run.Status)
	}
	a, err := e.runnableOf(run)
	if err != nil {
		return nil, 0, err
	}
	tools, resolving, err := e.approvalGate(ctx, run, p)
	if err != nil {
		return nil, 0, err
	}
	resume, err := resumeState(run, tools)
	if err != nil {
		return nil, 0, err
	}
	resume.AutoContinue = false
	if len(p.Media) > 0 {
		addInputMedia(run, resume, p.Media)
		if err := e.recordMedia(ctx, run.SessionID, run.UserID, p.Media, p.MediaSource); err != nil {
			return nil, 0, err
		}
	}
	if err := e.resolveByContinue(ctx, run, resume, resolving, p.Approver); err != nil {
		return nil, 0, err
	}
	audits := e.auditApprovals(run, resume, p.Approver)
	pausedAt := run.EventCount - 1
	run.Status = RunRunning
	run.Paused = resume
	run.UpdatedAt = e.now()
	run.LeaseOwner, run.LeaseUntil = e.cfg.InstanceID, e.leaseUntil()
	run.NewApprovals = audits
	err = e.store.UpdateRun(ctx, run, UpdateRunParams{IfStatus: []RunStatus{RunPaused}})
	run.NewApprovals = nil
	if err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, 0, Errorf(CodeConflict, "run %s is no longer paused", run.RunID)
		}
		return nil, 0, err
	}
	e.approvalsCreated(ctx, audits)
	w := &runWriter{e: e, run: run, last: run.EventCount - 1, feed: f}
	if err := w.emit(ctx, Event{Event: EventRunContinued}); err != nil {
		return nil, 0, err
	}
	run.EventCount = w.last + 1
	snapshot := *run
	e.launch(a, run, execOpts{resume: resume, feed: f, iface: p.Interface, carrier: p.TraceCarrier}, goSpawn)
	return &snapshot, pausedAt, nil
}

// addInputMedia adds media to the run's input: listed in run.Input, and
// carried by the input message of the resumed conversation (when the
// paused state has one), so the model is given them.
func addInputMedia(run *Run, resume *PausedState, media []MediaRef) {
	run.Input = NewRunInput(run.Input.InputContent, append(run.Input.Media(), media...))
	if i := resume.RunStart; i >= 0 && i < len(resume.Messages) && resume.Messages[i].Role == "user" {
		msgs := append([]Message(nil), resume.Messages...)
		msgs[i].Media = append(append([]MediaRef(nil), msgs[i].Media...), media...)
		resume.Messages = msgs
	}
}

// Decision is the decision a decided requirement carries on its tool call,
// as clients continue a paused run with agno's RunRequirement dicts (a
// team's requirements, a workflow step's executor requirements): its
// tool_execution, named by tool_call_id, where confirmation,
// confirmation_note, user_input_schema and external_execution_result,
// when set, take precedence over the tool execution's own fields.
func (r RunRequirement) Decision() (ToolExecution, error) {
	if r.ToolExecution == nil || r.ToolExecution.ToolCallID == "" {
		return ToolExecution{}, Errorf(CodeInvalid, "no tool_execution.tool_call_id")
	}
	t := *r.ToolExecution
	if r.Confirmation != nil {
		c := *r.Confirmation
		t.Confirmed = &c
	}
	if r.ConfirmationNote != "" {
		t.ConfirmationNote = r.ConfirmationNote
	}
	if len(r.UserInputSchema) > 0 {
		t.UserInputSchema = r.UserInputSchema
	}
	if r.ExternalExecutionResult != nil {
		t.Result = *r.ExternalExecutionResult
	}
	return t, nil
}

// resumeState is the paused state of run with the decisions on its
// pending tool calls applied: every pending call needs one, and each
// decision must name a pending call.
func resumeState(run *Run, tools []ToolExecution) (*PausedState, error) {
	decided := make(map[string]ToolExecution, len(tools))
	for _, t := range tools {
		if t.ToolCallID == "" {
			return nil, Errorf(CodeInvalid, "every tool needs its tool_call_id")
		}
		decided[t.ToolCallID] = t
	}
	resume := *run.Paused
	resume.Pending = append([]ToolExecution(nil), run.Paused.Pending...)
	for i, pend := range resume.Pending {
		d, ok := decided[pend.ToolCallID]
		if !ok {
			return nil, Errorf(CodeInvalid, "no decision for tool call %s (%s)", pend.ToolCallID, pend.ToolName)
		}
		if err := decide(&resume.Pending[i], d); err != nil {
			return nil, err
		}
		delete(decided, pend.ToolCallID)
	}
	for id := range decided {
		return nil, Errorf(CodeInvalid, "tool call %s is not pending on run %s", id, run.RunID)
	}
	return &resume, nil
}

// decide applies one decision to a pending tool call: a confirmation
// (confirmed, confirmation_note), the user's input (user_input_schema with
// values) or an external execution's result. A rejected call needs nothing
// else.
func decide(p *ToolExecution, d ToolExecution) error {
	if p.RequiresConfirmation && d.Confirmed == nil {
		return Errorf(CodeInvalid, "tool call %s (%s) needs confirmed true or false", p.ToolCallID, p.ToolName)
	}
	if d.Confirmed != nil {
		c := *d.Confirmed
		p.Confirmed = &c
	}
	p.ConfirmationNote = d.ConfirmationNote
	if p.Confirmed != nil && !*p.Confirmed {
		return nil
	}
	if p.RequiresUserInput {
		given := make(map[string]any, len(d.UserInputSchema))
		for _, f := range d.UserInputSchema {
			given[f.Name] = f.Value
		}
		schema := append([]UserInputField(nil), p.UserInputSchema...)
		for i, f := range schema {
			v, ok := given[f.Name]
			if !ok || v == nil {
				return Errorf(CodeInvalid, "tool call %s (%s) needs a value for user input field %q", p.ToolCallID, p.ToolName, f.Name)
			}
			schema[i].Value = v
			delete(given, f.Name)
		}
		for name := range given {
			return Errorf(CodeInvalid, "tool call %s (%s) has no user input field %q", p.ToolCallID, p.ToolName, name)
		}
		p.UserInputSchema, p.Answered = schema, true
	}
	if p.ExternalExecutionRequired {
		if d.Result == "" {
			return Errorf(CodeInvalid, "tool call %s (%s) is executed by the caller: continue it with its result", p.ToolCallID, p.ToolName)
		}
		p.Result = d.Result
	}
	return nil
}
