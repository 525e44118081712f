package core

import (
	"context"
	"errors"
	"fmt"
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

// DeleteSessions deletes sessions and their runs, then their media
// records and the stored media no other session carries. Media go after
// the sessions: a failure leaves records of deleted sessions, which
// deleting the ids again removes (missing sessions are ignored).
func (e *Engine) DeleteSessions(ctx context.Context, ids []string) (int, error) {
	e.flushDeferred(ctx)
	defer e.final.forgetAll()
	n, err := e.store.DeleteSessions(ctx, ids)
	if err != nil || e.cfg.SessionMedia == nil {
		return n, err
	}
	orphans, err := e.cfg.SessionMedia.DeleteSessionMedia(ctx, ids)
	if err != nil {
		return n, err
	}
	_ = e.DeleteUnreferencedMedia(ctx, orphans) // logged
	return n, nil
}

// DeleteUnreferencedMedia deletes the bytes of those of ids no session
// carries: a deleted session's orphans, or the media of a refused upload.
// Each is deleted while the session media store keeps a new record of it
// from being added (SessionMediaStore.DeleteUnreferencedMedia), so a
// session that records it at the same time either keeps the bytes or
// finds them gone and stores them again (recordMedia); a medium another
// session carries is never deleted. A failure is logged (the bytes stay,
// unreferenced) and returned.
func (e *Engine) DeleteUnreferencedMedia(ctx context.Context, ids []string) error {
	del, _ := e.cfg.Media.(MediaDeleter)
	if len(ids) == 0 || del == nil || e.cfg.SessionMedia == nil {
		return nil
	}
	_, err := e.cfg.SessionMedia.DeleteUnreferencedMedia(ctx, ids, del.Delete)
	if err != nil {
		e.logger.Warn("deleting media no session carries failed; their bytes stay in the media store", "media", len(ids), "error", err)
	}
	return err
}

// SessionMedia returns the record of a medium the session carries: from
// the session media store, or (without one) from its runs' inputs. A
// medium the session does not carry is a not-found error.
func (e *Engine) SessionMedia(ctx context.Context, sessionID, mediaID string) (*MediaRef, error) {
	if e.cfg.SessionMedia != nil {
		m, err := e.cfg.SessionMedia.GetSessionMedia(ctx, sessionID, mediaID)
		if errors.Is(err, ErrNotFound) {
			return nil, Errorf(CodeNotFound, "media %q not found in session %q", mediaID, sessionID)
		}
		return m, err
	}
	runs, err := e.List(ctx, ListRunsParams{SessionID: sessionID})
	if err != nil {
		return nil, err
	}
	for _, r := range runs {
		for _, m := range r.Media() {
			if m.ID == mediaID {
				return &m, nil
			}
		}
	}
	return nil, Errorf(CodeNotFound, "media %q not found in session %q", mediaID, sessionID)
}

// mediaStorer is an execution's StoreMedia: the medium is stored, then
// recorded as one of the session's (and stored again if its bytes were
// deleted in between: the data are at hand).
func (e *Engine) mediaStorer(sessionID, userID string) func(ctx context.Context, name, mimeType string, data []byte) (MediaRef, error) {
	if e.cfg.IngestMedia == nil {
		return nil
	}
	return func(ctx context.Context, name, mimeType string, data []byte) (MediaRef, error) {
		m, err := e.cfg.IngestMedia(ctx, name, mimeType, data)
		if err != nil {
			return MediaRef{}, err
		}
		again := MediaRestorerFunc(func(ctx context.Context, _ MediaRef) error {
			_, err := e.cfg.IngestMedia(ctx, name, mimeType, data)
			return err
		})
		if err := e.recordMedia(ctx, sessionID, userID, []MediaRef{m}, again); err != nil {
			return MediaRef{}, err
		}
		return m, nil
	}
}

// recordMedia records that the session carries refs, then makes sure
// their bytes are in the media store: an orphan's delete that held the
// store's exclusion before the record (DeleteUnreferencedMedia) may have
// removed bytes this session's upload found already stored; src stores
// them again. Once recorded, no delete removes them.
func (e *Engine) recordMedia(ctx context.Context, sessionID, userID string, refs []MediaRef, src MediaRestorer) error {
	if len(refs) == 0 || e.cfg.SessionMedia == nil {
		return nil
	}
	if err := e.cfg.SessionMedia.AddSessionMedia(ctx, sessionID, userID, refs, e.now()); err != nil {
		return fmt.Errorf("record the run's media: %w", err)
	}
	if e.cfg.Media == nil {
		return nil
	}
	for _, m := range refs {
		rc, _, err := e.cfg.Media.Open(ctx, m.ID)
		if err == nil {
			rc.Close()
			continue
		}
		if !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("check the run's media: %w", err)
		}
		if src == nil {
			return Errorf(CodeUnavailable, "file %q was deleted from the media store while the run was started (a deleted session carried the same bytes): send it again", m.Name)
		}
		if err := src.RestoreMedia(ctx, m); err != nil {
			return fmt.Errorf("store file %q again (its bytes were deleted while the run was started): %w", m.Name, err)
		}
	}
	return nil
}
