package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/core"
)

const sessionColumns = `session_id, session_type, session_name, user_id, agent_id, team_id,
	workflow_id, session_state, metadata, summary, created_at, updated_at`

func scanSession(sc scanner) (*core.Session, error) {
	var (
		s           core.Session
		state, meta sql.NullString
		sessType    string
	)
	if err := sc.Scan(&s.SessionID, &sessType, &s.SessionName, &s.UserID, &s.AgentID,
		&s.TeamID, &s.WorkflowID, &state, &meta, &s.Summary, &s.CreatedAt, &s.UpdatedAt); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		return nil, fmt.Errorf("sqlite: scan session: %w", err)
	}
	s.SessionType = core.SessionType(sessType)
	if err := decodeJSON("session_state", state, &s.SessionState); err != nil {
		return nil, err
	}
	if err := decodeJSON("metadata", meta, &s.Metadata); err != nil {
		return nil, err
	}
	return &s, nil
}

// CreateSession inserts s; a duplicate session_id is core.ErrConflict.
func (st *Store) CreateSession(ctx context.Context, s *core.Session) error {
	ins, err := newSessionInsert(s)
	if err != nil {
		return err
	}
	return st.write(ctx, func(ctx context.Context, tx *wtx) error {
		created, err := ins.exec(ctx, tx)
		if err == nil && !created {
			return fmt.Errorf("session %q already exists: %w", s.SessionID, core.ErrConflict)
		}
		return err
	})
}

// execer is a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// sessionInsert is a session's INSERT (unless it exists), its values
// encoded.
type sessionInsert struct {
	id   string
	args []any
}

func newSessionInsert(s *core.Session) (*sessionInsert, error) {
	if s == nil || s.SessionID == "" {
		return nil, fmt.Errorf("sqlite: create session: session_id is required: %w", core.ErrInvalid)
	}
	state, err := jsonColumn("session_state", s.SessionState)
	if err != nil {
		return nil, err
	}
	meta, err := jsonColumn("metadata", s.Metadata)
	if err != nil {
		return nil, err
	}
	return &sessionInsert{id: s.SessionID, args: []any{s.SessionID, string(s.SessionType), s.SessionName, s.UserID, s.AgentID, s.TeamID,
		s.WorkflowID, state, meta, s.Summary, s.CreatedAt, s.UpdatedAt}}, nil
}

// exec inserts the session unless one with its id exists, and reports
// whether it did.
func (ins *sessionInsert) exec(ctx context.Context, ex execer) (bool, error) {
	res, err := ex.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (session_id) DO NOTHING`, ins.args...)
	if err != nil {
		return false, fmt.Errorf("sqlite: create session %q: %w", ins.id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite: create session %q: %w", ins.id, err)
	}
	return n == 1, nil
}

// GetSession returns the session with id, or core.ErrNotFound.
func (st *Store) GetSession(ctx context.Context, id string) (*core.Session, error) {
	s, err := scanSession(st.r.QueryRowContext(ctx,
		`SELECT `+sessionColumns+` FROM sessions WHERE session_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("session %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get session %q: %w", id, err)
	}
	return s, nil
}

// sessionSortColumns maps ListSessionsParams.SortBy to a column.
var sessionSortColumns = map[string]string{
	"created_at":   "created_at",
	"updated_at":   "updated_at",
	"session_name": "session_name",
}

// ListSessions returns one page of the matching sessions and how many match
// in all. It reads only the sessions table. Limit <= 0 returns every match
// (Page is then ignored); Page < 1 is page 1. SortOrder defaults to desc.
// NameLike is case-insensitive for ASCII letters.
func (st *Store) ListSessions(ctx context.Context, p core.ListSessionsParams) ([]*core.Session, int, error) {
	by, asc, err := p.Sort()
	if err != nil {
		return nil, 0, err
	}
	col, dir := sessionSortColumns[by], "DESC"
	if asc {
		dir = "ASC"
	}

	var (
		conds []string
		args  []any
	)
	if p.Type != "" {
		conds, args = append(conds, "session_type = ?"), append(args, string(p.Type))
	}
	if p.ComponentID != "" {
		switch p.Type {
		case core.SessionAgent:
			conds = append(conds, "agent_id = ?")
			args = append(args, p.ComponentID)
		case core.SessionTeam:
			conds = append(conds, "team_id = ?")
			args = append(args, p.ComponentID)
		case core.SessionWorkflow:
			conds = append(conds, "workflow_id = ?")
			args = append(args, p.ComponentID)
		default:
			conds = append(conds, "(agent_id = ? OR team_id = ? OR workflow_id = ?)")
			args = append(args, p.ComponentID, p.ComponentID, p.ComponentID)
		}
	}
	if p.UserID != "" {
		conds, args = append(conds, "user_id = ?"), append(args, p.UserID)
	}
	if p.SessionIDs != nil {
		if len(p.SessionIDs) == 0 {
			conds = append(conds, "0")
		} else {
			conds = append(conds, "session_id IN ("+placeholders(len(p.SessionIDs))+")")
			for _, id := range p.SessionIDs {
				args = append(args, id)
			}
		}
	}
	if p.NameLike != "" {
		conds, args = append(conds, "instr(lower(session_name), lower(?)) > 0"), append(args, p.NameLike)
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}

	q := `SELECT ` + sessionColumns + ` FROM sessions` + where +
		` ORDER BY ` + col + ` ` + dir + `, seq ` + dir
	qargs := args
	if p.Limit > 0 {
		page := max(p.Page, 1)
		q += ` LIMIT ? OFFSET ?`
		qargs = append(append([]any(nil), args...), p.Limit, (page-1)*p.Limit)
	}

	// One read transaction: the page and the count see the same snapshot.
	tx, err := st.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: list sessions: %w", err)
	}
	defer tx.Rollback()

	rows, err := tx.QueryContext(ctx, q, qargs...)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: list sessions: %w", err)
	}
	out := []*core.Session{}
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			rows.Close()
			return nil, 0, err
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, 0, fmt.Errorf("sqlite: list sessions: %w", err)
	}
	rows.Close()

	total := len(out)
	if p.Limit > 0 {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions`+where, args...).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("sqlite: count sessions: %w", err)
		}
	}
	return out, total, nil
}

// UpdateSession applies the non-nil fields of p (and UpdatedAt when it is
// not 0) and returns the session as stored after it.
func (st *Store) UpdateSession(ctx context.Context, p core.UpdateSessionParams) (*core.Session, error) {
	var (
		sets []string
		args []any
	)
	if p.SessionName != nil {
		sets, args = append(sets, "session_name = ?"), append(args, *p.SessionName)
	}
	if p.SessionState != nil {
		v, err := jsonColumn("session_state", p.SessionState)
		if err != nil {
			return nil, err
		}
		sets, args = append(sets, "session_state = ?"), append(args, v)
	}
	if p.Metadata != nil {
		v, err := jsonColumn("metadata", p.Metadata)
		if err != nil {
			return nil, err
		}
		sets, args = append(sets, "metadata = ?"), append(args, v)
	}
	if p.Summary != nil {
		sets, args = append(sets, "summary = ?"), append(args, *p.Summary)
	}
	if p.UpdatedAt != 0 {
		sets, args = append(sets, "updated_at = ?"), append(args, p.UpdatedAt)
	}
	if len(sets) == 0 {
		return st.GetSession(ctx, p.SessionID)
	}
	args = append(args, p.SessionID)
	var s *core.Session
	err := st.write(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		s, err = scanSession(tx.QueryRowContext(ctx, `UPDATE sessions SET `+strings.Join(sets, ", ")+
			` WHERE session_id = ? RETURNING `+sessionColumns, args...))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("session %q: %w", p.SessionID, core.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: update session %q: %w", p.SessionID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// deleteChunk bounds the number of ids bound in one statement.
const deleteChunk = 500

// DeleteSessions deletes the sessions and every run of them, in one
// transaction. Missing ids are ignored; it returns how many sessions were
// deleted.
func (st *Store) DeleteSessions(ctx context.Context, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	total := 0
	err := st.write(ctx, func(ctx context.Context, tx *wtx) error {
		total = 0
		return deleteSessions(ctx, tx, ids, &total)
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}

func deleteSessions(ctx context.Context, tx *wtx, ids []string, total *int) error {
	for start := 0; start < len(ids); start += deleteChunk {
		chunk := ids[start:min(start+deleteChunk, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		in := "(" + placeholders(len(chunk)) + ")"
		if _, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE session_id IN `+in, args...); err != nil {
			return fmt.Errorf("sqlite: delete runs of sessions: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE session_id IN `+in, args...)
		if err != nil {
			return fmt.Errorf("sqlite: delete sessions: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: delete sessions: %w", err)
		}
		*total += int(n)
	}
	return nil
}
