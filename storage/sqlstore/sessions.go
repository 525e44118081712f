package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/core"
)

// SessionColumns are the sessions columns, in scan and bind order
// (SessionValues). The backends' run paths insert sessions with them too.
var SessionColumns = Columns{"session_id", "session_type", "session_name", "user_id", "agent_id", "team_id",
	"workflow_id", "session_state", "metadata", "summary", "created_at", "updated_at"}

// Sessions implements the session half of core.RunStore (create, get,
// list, update, delete) on a backend's sessions table; runs stay the
// backend's own (its hot path). A backend embeds it in its store.
type Sessions struct{ db *DB }

// NewSessions returns the session store of db.
func NewSessions(db *DB) *Sessions { return &Sessions{db: db} }

// ScanSession scans SessionColumns, then extra.
func ScanSession(d Dialect, row Row, extra ...any) (*core.Session, error) {
	var (
		s        core.Session
		sessType string
		f        Fields
	)
	f.Add(&s.SessionID, &sessType, &s.SessionName, &s.UserID, &s.AgentID, &s.TeamID, &s.WorkflowID)
	f.JSON(d, "session_state", &s.SessionState)
	f.JSON(d, "metadata", &s.Metadata)
	f.Add(&s.Summary, &s.CreatedAt, &s.UpdatedAt)
	if err := f.Scan(row, extra...); err != nil {
		return nil, err
	}
	s.SessionType = core.SessionType(sessType)
	return &s, nil
}

// SessionValues returns s's column values in SessionColumns order, its
// JSON columns encoded for d (the dialect's Arg is not applied: a
// Querier of the DB applies it). A session without an id is
// core.ErrInvalid.
func SessionValues(d Dialect, s *core.Session) ([]any, error) {
	return AppendSessionValues(d, make([]any, 0, len(SessionColumns)), s)
}

// AppendSessionValues is SessionValues appended to dst: a backend binding
// a session with a run in one statement builds their arguments in one
// slice.
func AppendSessionValues(d Dialect, dst []any, s *core.Session) ([]any, error) {
	if s == nil || s.SessionID == "" {
		return nil, fmt.Errorf("%s: create session: session_id is required: %w", d.Name, core.ErrInvalid)
	}
	state, err := EncodeJSON(d, "session_state", s.SessionState)
	if err != nil {
		return nil, err
	}
	meta, err := EncodeJSON(d, "metadata", s.Metadata)
	if err != nil {
		return nil, err
	}
	return append(dst, s.SessionID, string(s.SessionType), s.SessionName, s.UserID, s.AgentID, s.TeamID,
		s.WorkflowID, state, meta, s.Summary, s.CreatedAt, s.UpdatedAt), nil
}

// SessionInsert is a session's INSERT (unless one with its id exists), its
// values encoded ahead: a backend builds it before it enters its write
// path, and runs it there, in the transaction that creates a run too.
type SessionInsert struct {
	id   string
	d    Dialect
	args []any
}

// NewSessionInsert encodes s for d (see SessionValues).
func NewSessionInsert(d Dialect, s *core.Session) (*SessionInsert, error) {
	args, err := SessionValues(d, s)
	if err != nil {
		return nil, err
	}
	return &SessionInsert{id: s.SessionID, d: d, args: args}, nil
}

// insertSessionSQL is the session INSERT, with ? placeholders, built once:
// it runs with every run that creates its session.
var insertSessionSQL = `INSERT INTO sessions (` + SessionColumns.String() + `)
		VALUES (` + SessionColumns.Placeholders() + `) ON CONFLICT (session_id) DO NOTHING`

// Exec inserts the session unless one with its id exists, and reports
// whether it did. q is a Querier of the DB (or Bind's).
func (ins *SessionInsert) Exec(ctx context.Context, q Querier) (bool, error) {
	n, err := q.Exec(ctx, insertSessionSQL, ins.args...)
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// ExecSQL is Exec on a database/sql querier of the backend's own (the
// transaction of its run write path), rebound and with its arguments
// mapped by the dialect as Bind's would be, but without the two wrappers
// Bind and FromSQL allocate: the run path runs it for every new session.
func (ins *SessionInsert) ExecSQL(ctx context.Context, q SQLQuerier) (bool, error) {
	res, err := q.ExecContext(ctx, ins.d.Rebind(insertSessionSQL), ins.d.args(ins.args)...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// CreateSession inserts s; a duplicate session_id is core.ErrConflict.
func (ss *Sessions) CreateSession(ctx context.Context, s *core.Session) error {
	ins, err := NewSessionInsert(ss.db.d, s)
	if err != nil {
		return err
	}
	var created bool
	err = ss.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		created, err = ins.Exec(ctx, q)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: create session %q: %w", ss.db.d.Name, s.SessionID, ss.db.Err(ctx, err))
	}
	if !created {
		return fmt.Errorf("session %q already exists: %w", s.SessionID, core.ErrConflict)
	}
	return nil
}

// GetSession returns the session with id, or core.ErrNotFound.
func (ss *Sessions) GetSession(ctx context.Context, id string) (*core.Session, error) {
	var s *core.Session
	err := ss.db.ReadStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		s, err = ScanSession(ss.db.d, q.QueryRow(ctx,
			`SELECT `+SessionColumns.String()+` FROM sessions WHERE session_id = ?`, id))
		return err
	})
	if isNoRows(err) {
		return nil, fmt.Errorf("session %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: get session %q: %w", ss.db.d.Name, id, ss.db.Err(ctx, err))
	}
	return s, nil
}

// sessionSort maps ListSessionsParams.SortBy to an ORDER BY key; names
// sort by code point on both engines.
func sessionSort(d Dialect) Sort {
	return Sort{"created_at": "created_at", "updated_at": "updated_at", "session_name": d.ByteOrder("session_name")}
}

// ListSessions returns one page of the matching sessions and how many match
// in all. It reads only the sessions table. Limit <= 0 returns every match
// (Page is then ignored); Page < 1 is page 1. SortOrder defaults to desc;
// ties are broken by insertion order (in the same direction). NameLike is a
// case-insensitive substring (see Dialect.ContainsFold).
func (ss *Sessions) ListSessions(ctx context.Context, p core.ListSessionsParams) ([]*core.Session, int, error) {
	d := ss.db.d
	by, asc, err := p.Sort()
	if err != nil {
		return nil, 0, err
	}
	order, err := sessionSort(d).OrderBy(by, asc, "seq")
	if err != nil {
		return nil, 0, err
	}
	var (
		conds []string
		args  []any
	)
	cond := func(c string, vals ...any) { conds, args = append(conds, c), append(args, vals...) }
	if p.Type != "" {
		cond("session_type = ?", string(p.Type))
	}
	if p.ComponentID != "" {
		switch p.Type {
		case core.SessionAgent:
			cond("agent_id = ?", p.ComponentID)
		case core.SessionTeam:
			cond("team_id = ?", p.ComponentID)
		case core.SessionWorkflow:
			cond("workflow_id = ?", p.ComponentID)
		default:
			cond("(agent_id = ? OR team_id = ? OR workflow_id = ?)", p.ComponentID, p.ComponentID, p.ComponentID)
		}
	}
	if p.UserID != "" {
		cond("user_id = ?", p.UserID)
	}
	if p.SessionIDs != nil {
		c, vals := d.InStrings("session_id", p.SessionIDs)
		cond(c, vals...)
	}
	if p.NameLike != "" {
		cond(d.ContainsFold("session_name"), p.NameLike)
	}
	l := List{Columns: SessionColumns.String(), From: "sessions", Where: Where(conds), Args: args,
		OrderBy: order, Page: Page{Limit: p.Limit, Page: p.Page}}

	return collect(ctx, ss.db, l, "list sessions", func(row Row, extra ...any) (*core.Session, error) { return ScanSession(d, row, extra...) })
}

// UpdateSession applies the non-nil fields of p (and UpdatedAt when it is
// not 0) in one statement and returns the session as stored after it.
func (ss *Sessions) UpdateSession(ctx context.Context, p core.UpdateSessionParams) (*core.Session, error) {
	d := ss.db.d
	var (
		sets []string
		args []any
	)
	set := func(col string, v any) { sets, args = append(sets, col+" = ?"), append(args, v) }
	if p.SessionName != nil {
		set("session_name", *p.SessionName)
	}
	if p.SessionState != nil {
		v, err := EncodeJSON(d, "session_state", p.SessionState)
		if err != nil {
			return nil, err
		}
		set("session_state", v)
	}
	if p.Metadata != nil {
		v, err := EncodeJSON(d, "metadata", p.Metadata)
		if err != nil {
			return nil, err
		}
		set("metadata", v)
	}
	if p.Summary != nil {
		set("summary", *p.Summary)
	}
	if p.UpdatedAt != 0 {
		set("updated_at", p.UpdatedAt)
	}
	if len(sets) == 0 {
		return ss.GetSession(ctx, p.SessionID)
	}
	args = append(args, p.SessionID)
	var s *core.Session
	err := ss.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		s, err = ScanSession(d, q.QueryRow(ctx, `UPDATE sessions SET `+strings.Join(sets, ", ")+
			` WHERE session_id = ? RETURNING `+SessionColumns.String(), args...))
		return err
	})
	if isNoRows(err) {
		return nil, fmt.Errorf("session %q: %w", p.SessionID, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: update session %q: %w", d.Name, p.SessionID, ss.db.Err(ctx, err))
	}
	return s, nil
}

// deleteChunk bounds the ids bound in one statement on SQLite (PostgreSQL
// binds them as one array).
const deleteChunk = 500

// DeleteSessions deletes the sessions, every run of them and those runs'
// approvals, in one transaction. Missing ids are ignored; it returns how many sessions were
// deleted.
func (ss *Sessions) DeleteSessions(ctx context.Context, ids []string) (int, error) {
	d := ss.db.d
	if len(ids) == 0 {
		return 0, nil
	}
	chunk := deleteChunk
	if d.Engine == Postgres {
		chunk = len(ids)
	}
	total := 0
	err := ss.db.Write(ctx, func(ctx context.Context, q Querier) error {
		total = 0 // a batch that failed runs this again alone
		for start := 0; start < len(ids); start += chunk {
			in, args := d.InStrings("session_id", ids[start:min(start+chunk, len(ids))])
			// The approvals of the sessions' runs go with them (an
			// approval names its run's session).
			if _, err := q.Exec(ctx, `DELETE FROM approvals WHERE `+in, args...); err != nil {
				return fmt.Errorf("delete approvals of sessions: %w", err)
			}
			if _, err := q.Exec(ctx, `DELETE FROM runs WHERE `+in, args...); err != nil {
				return fmt.Errorf("delete runs of sessions: %w", err)
			}
			n, err := q.Exec(ctx, `DELETE FROM sessions WHERE `+in, args...)
			if err != nil {
				return err
			}
			total += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("%s: delete sessions: %w", d.Name, ss.db.Err(ctx, err))
	}
	return total, nil
}
