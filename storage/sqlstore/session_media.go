package sqlstore

// The session media's store (core.SessionMediaStore), written once for both
// dialects: which session carries which medium of the media store.

import (
	"context"
	"errors"
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
	for _, m := range refs {
		if m.ID == "" {
			return invalidf("%s: add session media: a medium without id", name)
		}
	}
	err := s.db.Write(ctx, func(ctx context.Context, q Querier) error {
		if err := s.lockMedia(ctx, q, mediaIDs(refs)...); err != nil {
			return err
		}
		for _, m := range refs {
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

// DeleteUnreferencedMedia implements core.SessionMediaStore: each id in
// a transaction of its own that takes the id's lock (lockMedia), finds no
// record naming it and calls del before it commits. On SQLite the
// transaction is the store's one writer's, so no record is added until
// del returns; on Postgres AddSessionMedia waits for the id's lock.
func (s *SessionMedia) DeleteUnreferencedMedia(ctx context.Context, ids []string, del func(ctx context.Context, id string) error) ([]string, error) {
	var deleted []string
	var errs []error
	for _, id := range ids {
		var delErr error
		gone := false
		err := s.db.Write(ctx, func(ctx context.Context, q Querier) error {
			delErr, gone = nil, false // a batch that failed runs this again alone
			if err := s.lockMedia(ctx, q, id); err != nil {
				return err
			}
			kept, err := queryStrings(ctx, q, `SELECT media_id FROM session_media WHERE media_id = ? LIMIT 1`, id)
			if err != nil || len(kept) > 0 {
				return err
			}
			// Its error is the caller's, not the transaction's: nothing
			// was written.
			if delErr = del(ctx, id); delErr == nil {
				gone = true
			}
			return nil
		})
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: delete medium %q: %w", s.db.d.Name, id, s.db.Err(ctx, err)))
		case delErr != nil:
			errs = append(errs, fmt.Errorf("delete medium %q: %w", id, delErr))
		case gone:
			deleted = append(deleted, id)
		}
	}
	return deleted, errors.Join(errs...)
}

// lockMedia takes, on Postgres, the transaction's advisory locks of ids
// (sorted, so two transactions never wait on each other's): what orders a
// medium's record against the delete of its bytes. On SQLite the writer
// already excludes every other write.
func (s *SessionMedia) lockMedia(ctx context.Context, q Querier, ids ...string) error {
	if s.db.d.Engine != Postgres {
		return nil
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		if _, err := q.Exec(ctx, `SELECT pg_advisory_xact_lock(?, hashtext(?))`, int32(mediaLockSpace), id); err != nil {
			return err
		}
	}
	return nil
}

// mediaLockSpace is the first key of the media's advisory locks (the
// second is the id's hash), apart from other advisory locks' keys.
const mediaLockSpace = 0x6d656469 // "medi"

func mediaIDs(refs []core.MediaRef) []string {
	out := make([]string, len(refs))
	for i, m := range refs {
		out[i] = m.ID
	}
	return out
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
