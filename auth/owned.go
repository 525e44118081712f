package auth

import (
	"context"

	"github.com/agentgate/agentgate/core"
)

// User isolation lives here, in one place: every adapter reads and binds
// owner-bound records (runs and sessions, and each later group's) through
// Owned, never by comparing user ids itself.

// Records is what Owned reads owner-bound records from (the engine).
type Records interface {
	Get(ctx context.Context, runID string) (*core.Run, error)
	GetSession(ctx context.Context, sessionID string) (*core.Session, error)
	GetApproval(ctx context.Context, id string) (*core.Approval, error)
}

// Owned is the principal's view of owner-bound records. Under user
// isolation another user's record is not found (the same answer as an
// absent one, so that ids cannot be probed), lists are bound to the
// principal's user and new records belong to it. Without isolation it
// changes nothing. A nil principal sees no record.
type Owned struct {
	p   *Principal
	src Records
}

// Owned returns p's view of the records in src.
func (p *Principal) Owned(src Records) Owned { return Owned{p: p, src: src} }

// Run returns the run if the principal may see it.
func (o Owned) Run(ctx context.Context, runID string) (*core.Run, error) {
	run, err := o.src.Get(ctx, runID)
	if err != nil {
		return nil, err
	}
	if !o.p.CanAccessUser(run.UserID) {
		return nil, core.Errorf(core.CodeNotFound, "run %q not found", runID)
	}
	return run, nil
}

// Session returns the session if the principal may see it.
func (o Owned) Session(ctx context.Context, sessionID string) (*core.Session, error) {
	s, err := o.src.GetSession(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	if !o.p.CanAccessUser(s.UserID) {
		return nil, core.Errorf(core.CodeNotFound, "session %q not found", sessionID)
	}
	return s, nil
}

// Approval returns the approval if the principal may see it: its own
// runs' approvals under isolation.
func (o Owned) Approval(ctx context.Context, id string) (*core.Approval, error) {
	a, err := o.src.GetApproval(ctx, id)
	if err != nil {
		return nil, err
	}
	if !o.p.CanAccessUser(a.UserID) {
		return nil, core.Errorf(core.CodeNotFound, "approval %q not found", id)
	}
	return a, nil
}

// Bound reports whether isolation binds the principal to its own records
// (a nil principal is bound: it sees none).
func (o Owned) Bound() bool { return o.p == nil || o.p.Isolated }

// UsableSession checks a session a new run names: "" and a session that
// does not exist (yet: the run creates it) are fine; another user's is not
// found. A failure to read it is left to the run's start to report.
func (o Owned) UsableSession(ctx context.Context, sessionID string) error {
	if sessionID == "" || !o.Bound() {
		return nil // nothing to check: no read on a run's start path
	}
	if s, err := o.src.GetSession(ctx, sessionID); err == nil && !o.p.CanAccessUser(s.UserID) {
		return core.Errorf(core.CodeNotFound, "session %q not found", sessionID)
	}
	return nil
}

// UserID is the user a new record belongs to, or a list is bound to:
// under isolation the principal's, whatever was asked; otherwise
// requested ("" lists every user's).
func (o Owned) UserID(requested string) string { return o.p.BindUserID(requested) }

// Sessions keeps the ids of the sessions the principal may touch (all of
// them without isolation, unread).
func (o Owned) Sessions(ctx context.Context, ids []string) []string {
	if !o.Bound() {
		return ids
	}
	kept := ids[:0:0]
	for _, id := range ids {
		if _, err := o.Session(ctx, id); err == nil {
			kept = append(kept, id)
		}
	}
	return kept
}

// Continuing fills in who continues a paused run, from the principal in
// ctx: the approver identity its approvals are resolved or recorded by,
// and whether it may resolve them (so a pending approval does not refuse
// it). Every interface's continue goes through it.
func Continuing(ctx context.Context, p core.ContinueParams) core.ContinueParams {
	pr, _ := FromContext(ctx)
	p.Approver, p.CanApprove = pr.Approver(), pr.MayApprove()
	return p
}
