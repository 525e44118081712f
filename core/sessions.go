package core

import (
	"context"
	"errors"
)

// CreateSession stores a new session; the id is generated when empty.
func (e *Engine) CreateSession(ctx context.Context, s *Session) (*Session, error) {
	if err := errors.Join(CheckID("session_id", s.SessionID), CheckID("user_id", s.UserID)); err != nil {
		return nil, err
	}
	if s.SessionID == "" {
		s.SessionID = e.cfg.NewID()
	}
	if s.SessionType == "" {
		s.SessionType = SessionAgent
	}
	for _, r := range []Ref{{KindAgent, s.AgentID}, {KindTeam, s.TeamID}, {KindWorkflow, s.WorkflowID}} {
		if r.ID == "" {
			continue
		}
		if _, err := e.Runnable(r.Kind, r.ID); err != nil {
			return nil, err
		}
	}
	now := e.now()
	s.CreatedAt, s.UpdatedAt = now, now
	e.flushDeferred(ctx) // a pending run's session exists
	if err := e.store.CreateSession(ctx, s); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, Errorf(CodeConflict, "session %q already exists", s.SessionID)
		}
		return nil, err
	}
	return s, nil
}

// GetSession returns a session.
func (e *Engine) GetSession(ctx context.Context, id string) (*Session, error) {
	if err := CheckID("session_id", id); err != nil {
		return nil, err
	}
	e.flushDeferred(ctx)
	s, err := e.store.GetSession(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(CodeNotFound, "session %q not found", id)
	}
	return s, err
}

// ListSessions returns a page of sessions and the total count.
func (e *Engine) ListSessions(ctx context.Context, p ListSessionsParams) ([]*Session, int, error) {
	if _, _, err := p.Sort(); err != nil {
		return nil, 0, err
	}
	e.flushDeferred(ctx)
	return e.store.ListSessions(ctx, p)
}

// UpdateSession changes a session's name, state, metadata or summary.
func (e *Engine) UpdateSession(ctx context.Context, p UpdateSessionParams) (*Session, error) {
	e.flushDeferred(ctx)
	p.UpdatedAt = e.now()
	s, err := e.store.UpdateSession(ctx, p)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(CodeNotFound, "session %q not found", p.SessionID)
	}
	return s, err
}

// DeleteSessions deletes sessions and their runs.
func (e *Engine) DeleteSessions(ctx context.Context, ids []string) (int, error) {
	e.flushDeferred(ctx)
	defer e.final.forgetAll()
	return e.store.DeleteSessions(ctx, ids)
}
