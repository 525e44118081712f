package sqlstore

// The session media's store (core.SessionMediaStore), written once for both
// dialects: which session carries which medium of the media store.

import (
	"context"
	"fmt"
	"slices"

	"github.com/agentgate/agentgate/core"
)

// SessionMedia implements core.SessionMediaStore on a backend's
// session_media table. A backend embeds it in its store.
type SessionMedia struct{ db *DB }

// NewSessionMedia returns the session media's store of db.
func NewSessionMedia(db *DB) *SessionMedia { return &SessionMedia{db: db} }

// AddSessionMedia implements core.SessionMediaStore.
func (s *SessionMedia) AddSessionMedia(ctx context.Context, sessionID, userID string, refs []core.MediaRef, createdAt int64) error {
	name := s.db.d.Name
	if sessionID == "" {
		return invalidf("%s: add session media: session_id is required", name)
	}
	if len(refs) == 0 {
		return nil
	}
	err := s.db.Write(ctx, func(ctx context.Context, q Querier) error {
		for _, m := range refs {
			if m.ID == "" {
				return invalidf("%s: add session media: a medium without id", name)
			}
			if _, err := q.Exec(ctx, `INSERT INTO session_media (session_id, media_id, user_id, kind, mime_type, name, size, width, height, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				sessionID, m.ID, userID, string(m.Kind), m.MIMEType, m.Name, m.Size, m.Width, m.Height, createdAt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: add media of session %q: %w", name, sessionID, s.db.Err(ctx, err))
	}
	return nil
}

// GetSessionMedia implements core.SessionMediaStore.
func (s *SessionMedia) GetSessionMedia(ctx context.Context, sessionID, mediaID string) (*core.MediaRef, error) {
	var (
		m    core.MediaRef
		kind string
	)
	err := s.db.ReadStmt(ctx, func(ctx context.Context, q Querier) error {
		return q.QueryRow(ctx, `SELECT media_id, kind, mime_type, name, size, width, height FROM session_media WHERE session_id = ? AND media_id = ?`,
			sessionID, mediaID).Scan(&m.ID, &kind, &m.MIMEType, &m.Name, &m.Size, &m.Width, &m.Height)
	})
	if isNoRows(err) {
		return nil, fmt.Errorf("media %q of session %q: %w", mediaID, sessionID, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: get media %q of session %q: %w", s.db.d.Name, mediaID, sessionID, s.db.Err(ctx, err))
	}
	m.Kind = core.MediaKind(kind)
	return &m, nil
}

// DeleteSessionMedia implements core.SessionMediaStore: in one
// transaction, the sessions' media, their records, then which of them no
// record names any more.
func (s *SessionMedia) DeleteSessionMedia(ctx context.Context, sessionIDs []string) ([]string, error) {
	d := s.db.d
	if len(sessionIDs) == 0 {
		return nil, nil
	}
	chunk := deleteChunk
	if d.Engine == Postgres {
		chunk = len(sessionIDs)
	}
	var orphans []string
	err := s.db.Write(ctx, func(ctx context.Context, q Querier) error {
		orphans = orphans[:0] // a batch that failed runs this again alone
		var candidates []string
		for start := 0; start < len(sessionIDs); start += chunk {
			in, args := d.InStrings("session_id", sessionIDs[start:min(start+chunk, len(sessionIDs))])
			ids, err := queryStrings(ctx, q, `SELECT DISTINCT media_id FROM session_media WHERE `+in, args...)
			if err != nil {
				return err
			}
			candidates = append(candidates, ids...)
			if _, err := q.Exec(ctx, `DELETE FROM session_media WHERE `+in, args...); err != nil {
				return err
			}
		}
		slices.Sort(candidates)
		candidates = slices.Compact(candidates)
		for start := 0; start < len(candidates); start += chunk {
			part := candidates[start:min(start+chunk, len(candidates))]
			in, args := d.InStrings("media_id", part)
			kept, err := queryStrings(ctx, q, `SELECT DISTINCT media_id FROM session_media WHERE `+in, args...)
			if err != nil {
				return err
			}
			for _, id := range part {
				if !slices.Contains(kept, id) {
					orphans = append(orphans, id)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: delete media of sessions: %w", d.Name, s.db.Err(ctx, err))
	}
	return orphans, nil
}

// queryStrings runs a query of one text column.
func queryStrings(ctx context.Context, q Querier, query string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
