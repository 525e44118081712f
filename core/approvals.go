package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The engine's side of approvals (see approval.go): the record a pause
// writes, the gate on continue, resolution, auto-continue and expiry.

// ApprovalSettings are the gateway-wide approval policy (EngineConfig).
type ApprovalSettings struct {
	// AutoContinue: every required approval continues its run by itself
	// once resolved (a tool can also ask for it on its own).
	AutoContinue bool
	// ExpiresIn, when > 0, is how long a required approval waits before
	// it expires, unless its tool says otherwise.
	ExpiresIn time.Duration
	// OnExpiry is what an expired approval does to its run: OnExpiryCancel
	// (the default) or OnExpiryKeepPaused.
	OnExpiry string
}

// What an expired approval does to its run.
const (
	// OnExpiryCancel cancels the run (RunCancelled, reason
	// ReasonApprovalExpired).
	OnExpiryCancel = "cancel"
	// OnExpiryKeepPaused leaves the run paused: an approver may still
	// continue it with decisions of their own, or cancel it.
	OnExpiryKeepPaused = "keep_paused"
)

// ReasonApprovalExpired is the reason of a run cancelled because its
// approval expired.
const ReasonApprovalExpired = "approval_expired"

// autoContinueSettle is how long after a resolution the sweep leaves an
// auto-continue to the replica that resolved it, before doing it itself.
const autoContinueSettle = 5 * time.Second

// AddApprovalObserver adds o to the observers told of approvals. Call it
// before serving.
func (e *Engine) AddApprovalObserver(o ApprovalObserver) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.observers = append(e.observers, o)
}

func (e *Engine) approvalObservers() []ApprovalObserver {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.observers
}

// approvalsCreated tells the observers of approvals just stored.
func (e *Engine) approvalsCreated(ctx context.Context, as []*Approval) {
	obs := e.approvalObservers()
	if len(obs) == 0 || len(as) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	for _, a := range as {
		for _, o := range obs {
			o.ApprovalCreated(ctx, a)
		}
	}
}

func (e *Engine) approvalResolved(ctx context.Context, a *Approval) {
	ctx = context.WithoutCancel(ctx)
	for _, o := range e.approvalObservers() {
		o.ApprovalResolved(ctx, a)
	}
}

// pauseApprovals prepares the approval a top-level run's pause writes:
// one pending record covering every paused tool call marked approval:
// required, stamped on those calls (in the pause's state, its tools and
// its requirements). The record goes into run.NewApprovals, so the pause's
// store write inserts it in its transaction.
func (e *Engine) pauseApprovals(run *Run) {
	if run.ParentRunID != "" || run.Paused == nil {
		return
	}
	var covered []int
	for i := range run.Paused.Pending {
		if run.Paused.Pending[i].ApprovalType == ApprovalRequired && run.Paused.Pending[i].ApprovalID == "" {
			covered = append(covered, i)
		}
	}
	if len(covered) == 0 {
		return
	}
	now := e.now()
	first := &run.Paused.Pending[covered[0]]
	a := &Approval{
		ID: e.cfg.NewID(), RunID: run.RunID, SessionID: run.SessionID, Status: ApprovalPending,
		SourceType: run.Kind(), ApprovalType: ApprovalRequired, PauseType: PauseTypeOf(first),
		ToolName: first.ToolName, ToolArgs: first.ToolArgs,
		AgentID: run.AgentID, TeamID: run.TeamID, WorkflowID: run.WorkflowID, UserID: run.UserID,
		ScheduleID: run.ScheduleID, ScheduleRunID: run.ScheduleRunID, SourceName: run.sourceName(),
		AutoContinue: e.cfg.Approvals.AutoContinue, CreatedAt: now, UpdatedAt: now,
	}
	expiresIn := int64(e.cfg.Approvals.ExpiresIn / time.Second)
	names := make([]any, 0, len(covered))
	for _, i := range covered {
		t := &run.Paused.Pending[i]
		t.ApprovalID = a.ID
		a.ToolCallIDs = append(a.ToolCallIDs, t.ToolCallID)
		names = append(names, t.ToolName)
		if p := t.Approval; p != nil {
			a.AutoContinue = a.AutoContinue || p.AutoContinue
			if p.ExpiresIn > 0 && (expiresIn == 0 || p.ExpiresIn < expiresIn) {
				expiresIn = p.ExpiresIn
			}
		}
	}
	if expiresIn > 0 {
		at := now + expiresIn
		a.ExpiresAt = &at
	}
	a.Context = map[string]any{"tool_names": names}
	if a.SourceName != "" {
		a.Context["source_name"] = a.SourceName
	}
	stampApproval(run.Tools, a)
	for i := range run.Requirements {
		if te := run.Requirements[i].ToolExecution; te != nil && covers(a, te.ToolCallID) {
			c := *te
			c.ApprovalID = a.ID
			run.Requirements[i].ToolExecution = &c
		}
	}
	a.Requirements = run.Requirements
	run.Paused.AutoContinue = a.AutoContinue
	run.NewApprovals = append(run.NewApprovals, a)
}

// stampApproval sets a's id on the tool executions it covers.
func stampApproval(tools []ToolExecution, a *Approval) {
	for i := range tools {
		if covers(a, tools[i].ToolCallID) {
			tools[i].ApprovalID = a.ID
		}
	}
}

func covers(a *Approval, toolCallID string) bool {
	for _, id := range a.ToolCallIDs {
		if id == toolCallID {
			return true
		}
	}
	return false
}

// sourceName is the name of what runs run.
func (r *Run) sourceName() string {
	switch r.Kind() {
	case KindTeam:
		return r.TeamName
	case KindWorkflow:
		return r.WorkflowName
	}
	return r.AgentName
}

// approvalGate applies the approvals of a paused run to a continue: it
// returns the decisions to resume with and the pending approvals the
// caller (an approver) resolves by continuing. A pending required
// approval refuses a caller who is not an approver (CodeForbidden, naming
// it); a resolved one supplies its decision for the calls it covers, so
// the caller need send nothing for them.
func (e *Engine) approvalGate(ctx context.Context, run *Run, p ContinueParams) ([]ToolExecution, []*Approval, error) {
	seen := map[string]bool{}
	tools := p.Tools
	var resolving []*Approval
	for _, t := range run.Paused.Pending {
		id := t.ApprovalID
		if t.ApprovalType != ApprovalRequired || id == "" || seen[id] {
			continue
		}
		seen[id] = true
		a, err := e.store.GetApproval(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted: it gates nothing any more
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read approval %s: %w", id, err)
		}
		switch a.Status {
		case ApprovalPending:
			if !p.CanApprove {
				return nil, nil, &ApprovalPendingError{RunID: run.RunID, ApprovalID: id}
			}
			resolving = append(resolving, a)
		case ApprovalApproved, ApprovalRejected:
			tools = withApprovalDecision(tools, run.Paused.Pending, a)
		default: // expired, cancelled
			if !p.CanApprove {
				return nil, nil, Errorf(CodeConflict, "approval %s of run %s is %s: only an approver can continue the run now, or cancel it", id, run.RunID, a.Status)
			}
		}
	}
	return tools, resolving, nil
}

// ApprovalPendingError refuses a continue while a required approval is
// pending (code forbidden: the caller may not resolve it).
type ApprovalPendingError struct {
	RunID      string
	ApprovalID string
}

func (e *ApprovalPendingError) Error() string {
	return fmt.Sprintf("run %s waits for approval %s: it continues once an approver resolves it (POST /approvals/%s/resolve)", e.RunID, e.ApprovalID, e.ApprovalID)
}

// withApprovalDecision returns tools with the resolved approval a's
// decision on each call it covers, over whatever the caller sent for it:
// approved confirms (with resolution_data's values for user input and its
// result for an external execution), rejected rejects.
func withApprovalDecision(tools []ToolExecution, pending []ToolExecution, a *Approval) []ToolExecution {
	out := make([]ToolExecution, 0, len(tools)+len(a.ToolCallIDs))
	given := map[string]ToolExecution{}
	for _, t := range tools {
		if covers(a, t.ToolCallID) {
			given[t.ToolCallID] = t
			continue
		}
		out = append(out, t)
	}
	for _, pt := range pending {
		if !covers(a, pt.ToolCallID) {
			continue
		}
		d, ok := given[pt.ToolCallID]
		if !ok {
			d = ToolExecution{ToolCallID: pt.ToolCallID, UserInputSchema: pt.UserInputSchema}
		}
		approved := a.Status == ApprovalApproved
		d.Confirmed = &approved
		if approved {
			applyResolutionData(&d, pt, a.ResolutionData)
		}
		out = append(out, d)
	}
	return out
}

// applyResolutionData fills a decision from an approval's resolution data
// (agno's conventions): {"values": {...}} for user input (or the data
// itself), {"result": ...} for an external execution.
func applyResolutionData(d *ToolExecution, pt ToolExecution, data map[string]any) {
	if len(data) == 0 {
		return
	}
	if pt.RequiresUserInput {
		values, ok := data["values"].(map[string]any)
		if !ok {
			values = data
		}
		schema := append([]UserInputField(nil), pt.UserInputSchema...)
		for i, f := range schema {
			if v, ok := values[f.Name]; ok {
				schema[i].Value = v
			}
		}
		d.UserInputSchema = schema
	}
	if pt.ExternalExecutionRequired {
		switch r := data["result"].(type) {
		case nil:
		case string:
			d.Result = r
		default:
			b, _ := json.Marshal(r)
			d.Result = string(b)
		}
	}
}

// resolveByContinue resolves the pending approvals an approver decided by
// continuing the run: approved unless a covered call was rejected, with
// the decisions as resolution data.
func (e *Engine) resolveByContinue(ctx context.Context, run *Run, resume *PausedState, as []*Approval, by string) error {
	for _, a := range as {
		status, data := ApprovalApproved, map[string]any{}
		values := map[string]any{}
		for _, t := range resume.Pending {
			if !covers(a, t.ToolCallID) {
				continue
			}
			if t.Confirmed != nil && !*t.Confirmed {
				status = ApprovalRejected
			}
			for _, f := range t.UserInputSchema {
				values[f.Name] = f.Value
			}
			if t.ExternalExecutionRequired && t.Result != "" {
				data["result"] = t.Result
			}
		}
		if len(values) > 0 {
			data["values"] = values
		}
		if len(data) == 0 {
			data = nil
		}
		got, err := e.store.ResolveApproval(ctx, ResolveApprovalParams{ID: a.ID, Status: status, ResolvedBy: by, ResolutionData: data, ResolvedAt: e.now()})
		if errors.Is(err, ErrConflict) {
			return Errorf(CodeConflict, "approval %s of run %s was resolved meanwhile: continue the run again", a.ID, run.RunID)
		}
		if err != nil {
			return fmt.Errorf("resolve approval %s: %w", a.ID, err)
		}
		e.approvalResolved(ctx, got)
	}
	return nil
}

// auditApprovals are the audit records of a continue: one per decided
// call of a tool marked approval: audit, already resolved, by the caller.
func (e *Engine) auditApprovals(run *Run, resume *PausedState, by string) []*Approval {
	var out []*Approval
	now := e.now()
	for i := range resume.Pending {
		t := &resume.Pending[i]
		if t.ApprovalType != ApprovalAudit {
			continue
		}
		status := ApprovalApproved
		if t.Confirmed != nil && !*t.Confirmed {
			status = ApprovalRejected
		}
		at := now
		a := &Approval{
			ID: e.cfg.NewID(), RunID: run.RunID, SessionID: run.SessionID, Status: status,
			SourceType: run.Kind(), ApprovalType: ApprovalAudit, PauseType: PauseTypeOf(t),
			ToolName: t.ToolName, ToolArgs: t.ToolArgs, ToolCallIDs: []string{t.ToolCallID},
			AgentID: run.AgentID, TeamID: run.TeamID, WorkflowID: run.WorkflowID, UserID: run.UserID,
			ScheduleID: run.ScheduleID, ScheduleRunID: run.ScheduleRunID, SourceName: run.sourceName(),
			ResolvedBy: by, ResolvedAt: &at, CreatedAt: now, UpdatedAt: now,
			Context: map[string]any{"tool_names": []any{t.ToolName}},
		}
		if a.SourceName != "" {
			a.Context["source_name"] = a.SourceName
		}
		t.ApprovalID = a.ID
		out = append(out, a)
	}
	return out
}

// GetApproval returns the approval with id, with its run's status as it
// is now (the store reads it with the approval).
func (e *Engine) GetApproval(ctx context.Context, id string) (*Approval, error) {
	if err := CheckID("approval_id", id); err != nil {
		return nil, err
	}
	a, err := e.store.GetApproval(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(CodeNotFound, "approval %q not found", id)
	}
	return a, err
}

// ListApprovals returns one page of approvals matching p and the total,
// each with its run's status as it is now.
func (e *Engine) ListApprovals(ctx context.Context, p ListApprovalsParams) ([]*Approval, int, error) {
	for _, s := range p.Statuses {
		if !s.Valid() {
			return nil, 0, Errorf(CodeInvalid, "status %q: must be pending, approved, rejected, expired or cancelled", s)
		}
	}
	switch p.ApprovalType {
	case "", ApprovalRequired, ApprovalAudit:
	default:
		return nil, 0, Errorf(CodeInvalid, "approval_type %q: must be required or audit", p.ApprovalType)
	}
	return e.store.ListApprovals(ctx, p)
}

// ResolveApproval resolves a pending approval (approved or rejected) on
// behalf of p.ResolvedBy, from any replica: a compare-and-set, so one of
// two concurrent resolutions wins and the other is CodeConflict. The
// observers are told; an approval marked auto_continue then continues its
// run here, with the decision read from the store.
func (e *Engine) ResolveApproval(ctx context.Context, p ResolveApprovalParams) (*Approval, error) {
	if err := CheckID("approval_id", p.ID); err != nil {
		return nil, err
	}
	if p.Status != ApprovalApproved && p.Status != ApprovalRejected {
		return nil, Errorf(CodeInvalid, "status %q: must be approved or rejected", p.Status)
	}
	cur, err := e.GetApproval(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	if cur.Status != ApprovalPending {
		return nil, Errorf(CodeConflict, "approval %s is already %s and cannot be resolved", p.ID, cur.Status)
	}
	if cur.AutoContinue && p.Status == ApprovalApproved {
		// Nobody else will give what the run needs: check it now.
		if err := e.checkResolution(ctx, cur, p.ResolutionData); err != nil {
			return nil, err
		}
	}
	if p.ResolvedAt == 0 {
		p.ResolvedAt = e.now()
	}
	a, err := e.store.ResolveApproval(ctx, p)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, Errorf(CodeNotFound, "approval %q not found", p.ID)
	case errors.Is(err, ErrConflict):
		now, gerr := e.store.GetApproval(ctx, p.ID)
		if gerr != nil {
			return nil, Errorf(CodeConflict, "approval %s was resolved meanwhile", p.ID)
		}
		return nil, Errorf(CodeConflict, "approval %s is already %s and cannot be resolved", p.ID, now.Status)
	case err != nil:
		return nil, err
	}
	e.approvalResolved(ctx, a)
	if a.AutoContinue {
		e.autoContinue(a)
	}
	return a, nil
}

// checkResolution refuses an approval of an auto-continued run whose
// resolution data lacks what its paused calls need (user input values, an
// external result): the continue would fail with nobody to tell.
func (e *Engine) checkResolution(ctx context.Context, a *Approval, data map[string]any) error {
	run, err := e.Get(ctx, a.RunID)
	if err != nil || run.Status != RunPaused || run.Paused == nil {
		return nil // nothing to continue: the resolution is only recorded
	}
	probe := *a
	probe.Status, probe.ResolutionData = ApprovalApproved, data
	tools := withApprovalDecision(nil, run.Paused.Pending, &probe)
	for _, pt := range run.Paused.Pending {
		if !covers(a, pt.ToolCallID) {
			continue
		}
		for _, d := range tools {
			if d.ToolCallID != pt.ToolCallID {
				continue
			}
			c := pt
			if err := decide(&c, d); err != nil {
				return Errorf(CodeUnprocessable, "resolution_data: %s (give {\"values\": {...}} for user input, {\"result\": ...} for an external execution)", MessageOf(err))
			}
		}
	}
	return nil
}

// autoContinue continues a's run in the background, with the decision
// from the store. A run that is no longer paused (continued or cancelled
// meanwhile, on any replica) is left as it is.
func (e *Engine) autoContinue(a *Approval) {
	e.launchMu.Lock()
	select {
	case <-e.closed:
		e.launchMu.Unlock()
		return // the sweep on another replica does it
	default:
	}
	e.wg.Add(1)
	e.launchMu.Unlock()
	go func() {
		defer e.wg.Done()
		_, _, err := e.Continue(e.baseCtx, ContinueParams{RunID: a.RunID})
		var pending *ApprovalPendingError
		switch {
		case err == nil:
			e.logger.Info("run continued on its approval's resolution", "run_id", a.RunID, "approval_id", a.ID, "status", a.Status)
		case errors.Is(err, ErrConflict), errors.As(err, &pending):
			// Continued or cancelled meanwhile, or another approval of
			// the run is still pending.
		default:
			e.logger.Warn("auto-continue on approval", "run_id", a.RunID, "approval_id", a.ID, "err", err)
		}
	}()
}

// DeleteApproval deletes the approval with id. A deleted required
// approval no longer gates its run.
func (e *Engine) DeleteApproval(ctx context.Context, id string) error {
	if err := CheckID("approval_id", id); err != nil {
		return err
	}
	err := e.store.DeleteApproval(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Errorf(CodeNotFound, "approval %q not found", id)
	}
	return err
}

// AnnotateApproval merges keys into an approval's context (see
// ApprovalStore.AnnotateApproval).
func (e *Engine) AnnotateApproval(ctx context.Context, id string, context map[string]any) error {
	err := e.store.AnnotateApproval(ctx, id, context)
	if errors.Is(err, ErrNotFound) {
		return Errorf(CodeNotFound, "approval %q not found", id)
	}
	return err
}

// cancelApprovals cancels the pending approvals of a run that ended
// without them (cancelled while paused).
func (e *Engine) cancelApprovals(ctx context.Context, runID string) {
	list, _, err := e.store.ListApprovals(ctx, ListApprovalsParams{RunID: runID, Statuses: []ApprovalStatus{ApprovalPending}})
	if err != nil {
		e.logger.Warn("list the approvals of a cancelled run", "run_id", runID, "err", err)
		return
	}
	for _, a := range list {
		got, err := e.store.ResolveApproval(ctx, ResolveApprovalParams{ID: a.ID, Status: ApprovalCancelled, ResolvedAt: e.now()})
		if err == nil {
			e.approvalResolved(ctx, got)
		}
	}
}

// SweepApprovals is the approvals' periodic job, run once across replicas
// (the gateway registers it with the queue): it expires pending approvals
// whose time is up (and cancels their runs, or leaves them paused, as
// ApprovalSettings.OnExpiry says), and continues the runs of
// auto_continue approvals resolved a while ago whose replica did not (it
// died, or was stopping).
func (e *Engine) SweepApprovals(ctx context.Context) error {
	now := e.now()
	expired, _, err := e.store.ListApprovals(ctx, ListApprovalsParams{Statuses: []ApprovalStatus{ApprovalPending}, ExpiresBefore: now + 1, Limit: 100})
	if err != nil {
		return fmt.Errorf("list expired approvals: %w", err)
	}
	for _, a := range expired {
		got, err := e.store.ResolveApproval(ctx, ResolveApprovalParams{ID: a.ID, Status: ApprovalExpired, ResolvedAt: now})
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
			continue // resolved meanwhile
		}
		if err != nil {
			return fmt.Errorf("expire approval %s: %w", a.ID, err)
		}
		e.approvalResolved(ctx, got)
		e.expireRun(ctx, got)
	}
	resolved, _, err := e.store.ListApprovals(ctx, ListApprovalsParams{
		Statuses: []ApprovalStatus{ApprovalApproved, ApprovalRejected}, AutoContinue: true,
		ResolvedAfter: now - int64((24 * time.Hour).Seconds()), Limit: 100})
	if err != nil {
		return fmt.Errorf("list resolved approvals: %w", err)
	}
	for _, a := range resolved {
		if a.RunStatus != RunPaused || a.ResolvedAt != nil && *a.ResolvedAt > now-int64(autoContinueSettle/time.Second) {
			continue // (the store read the run's status with the approval)
		}
		run, err := e.store.GetRun(ctx, a.RunID)
		if err != nil || run.Status != RunPaused || run.Paused == nil || !pausedOn(run.Paused, a.ID) {
			continue
		}
		e.autoContinue(a)
	}
	return nil
}

// pausedOn reports whether the paused state waits on approval id.
func pausedOn(p *PausedState, id string) bool {
	for _, t := range p.Pending {
		if t.ApprovalID == id {
			return true
		}
	}
	return false
}

// expireRun applies an expired approval to its run: cancelled (reason
// approval_expired) or left paused, no longer awaiting an auto-continue.
func (e *Engine) expireRun(ctx context.Context, a *Approval) {
	if a.RunStatus != RunPaused {
		return
	}
	run, err := e.store.GetRun(ctx, a.RunID)
	if err != nil || run.Status != RunPaused || run.Paused == nil || !pausedOn(run.Paused, a.ID) {
		return
	}
	if e.cfg.Approvals.OnExpiry == OnExpiryKeepPaused {
		if run.Paused.AutoContinue {
			run.Paused.AutoContinue = false
			run.UpdatedAt = e.now()
			if err := e.store.UpdateRun(ctx, run, UpdateRunParams{IfStatus: []RunStatus{RunPaused}}); err != nil && !errors.Is(err, ErrConflict) {
				e.logger.Warn("store an expired approval's run", "run_id", run.RunID, "err", err)
			}
		}
		return
	}
	if _, err := e.cancel(ctx, a.RunID, ReasonApprovalExpired); err != nil {
		e.logger.Warn("cancel an expired approval's run", "run_id", a.RunID, "approval_id", a.ID, "err", err)
	}
}
