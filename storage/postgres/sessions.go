package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/agentgate/agentgate/core"
	"github.com/jackc/pgx/v5"
)

const sessionColumns = `session_id, session_type, session_name, user_id, agent_id, team_id,
	workflow_id, session_state, metadata, summary, created_at, updated_at`

// scanSession scans sessionColumns, then extra.
func scanSession(sc scanner, extra ...any) (*core.Session, error) {
	var (
		s           core.Session
		state, meta []byte
		sessType    string
	)
	dest := append([]any{&s.SessionID, &sessType, &s.SessionName, &s.UserID, &s.AgentID,
		&s.TeamID, &s.WorkflowID, &state, &meta, &s.Summary, &s.CreatedAt, &s.UpdatedAt}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return nil, err
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

// sessionValues returns s's column values in sessionColumns order.
func sessionValues(s *core.Session) ([]any, error) {
	if s == nil || s.SessionID == "" {
		return nil, fmt.Errorf("postgres: create session: session_id is required: %w", core.ErrInvalid)
	}
	state, err := jsonColumn("session_state", s.SessionState)
	if err != nil {
		return nil, err
	}
	meta, err := jsonColumn("metadata", s.Metadata)
	if err != nil {
		return nil, err
	}
	return []any{txt(s.SessionID), txt(string(s.SessionType)), txt(s.SessionName), txt(s.UserID),
		txt(s.AgentID), txt(s.TeamID), txt(s.WorkflowID), state, meta, txt(s.Summary),
		s.CreatedAt, s.UpdatedAt}, nil
}

const sessionParams = 12 // len(sessionValues(...))

// CreateSession inserts s; a duplicate session_id is core.ErrConflict.
func (st *Store) CreateSession(ctx context.Context, s *core.Session) error {
	vals, err := sessionValues(s)
	if err != nil {
		return err
	}
	tag, err := st.pool.Exec(ctx, `INSERT INTO sessions (`+sessionColumns+`)
		VALUES (`+placeholders(1, sessionParams)+`)
		ON CONFLICT (session_id) DO NOTHING`, vals...)
	if err != nil {
		return fmt.Errorf("postgres: create session %q: %w", s.SessionID, dbErr(ctx, err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("session %q already exists: %w", s.SessionID, core.ErrConflict)
	}
	return nil
}

// GetSession returns the session with id, or core.ErrNotFound.
func (st *Store) GetSession(ctx context.Context, id string) (*core.Session, error) {
	s, err := scanSession(st.pool.QueryRow(ctx,
		`SELECT `+sessionColumns+` FROM sessions WHERE session_id = $1`, txt(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("session %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get session %q: %w", id, dbErr(ctx, err))
	}
	return s, nil
}

// sessionSortColumns maps ListSessionsParams.SortBy to an ORDER BY key.
// Names sort by code point (COLLATE "C"), as on SQLite, whatever the
// database's collation.
var sessionSortColumns = map[string]string{
	"created_at":   "created_at",
	"updated_at":   "updated_at",
	"session_name": `session_name COLLATE "C"`,
}

// ListSessions returns one page of the matching sessions and how many match
// in all. It reads only the sessions table. Limit <= 0 returns every match
// (Page is then ignored); Page < 1 is page 1. SortOrder defaults to desc;
// ties are broken by insertion order (in the same direction). NameLike is a
// case-insensitive substring (% and _ are literal characters).
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
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if p.Type != "" {
		conds = append(conds, "session_type = "+arg(txt(string(p.Type))))
	}
	if p.ComponentID != "" {
		switch p.Type {
		case core.SessionAgent:
			conds = append(conds, "agent_id = "+arg(txt(p.ComponentID)))
		case core.SessionTeam:
			conds = append(conds, "team_id = "+arg(txt(p.ComponentID)))
		case core.SessionWorkflow:
			conds = append(conds, "workflow_id = "+arg(txt(p.ComponentID)))
		default:
			a := arg(txt(p.ComponentID))
			conds = append(conds, "(agent_id = "+a+" OR team_id = "+a+" OR workflow_id = "+a+")")
		}
	}
	if p.UserID != "" {
		conds = append(conds, "user_id = "+arg(txt(p.UserID)))
	}
	if p.SessionIDs != nil {
		conds = append(conds, "session_id = ANY("+arg(txts(p.SessionIDs))+"::text[])")
	}
	if p.NameLike != "" {
		conds = append(conds, "strpos(lower(session_name), lower("+arg(txt(p.NameLike))+")) > 0")
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	whereArgs := len(args)

	// With a limit, the window count is the total over the whole filter,
	// read in the same statement (one snapshot) as the page.
	q := `SELECT ` + sessionColumns
	if p.Limit > 0 {
		q += `, count(*) OVER ()`
	}
	q += ` FROM sessions` + where + ` ORDER BY ` + col + ` ` + dir + `, seq ` + dir
	if p.Limit > 0 {
		page := max(p.Page, 1)
		q += ` LIMIT ` + arg(p.Limit) + ` OFFSET ` + arg((page-1)*p.Limit)
	}

	rows, err := st.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("postgres: list sessions: %w", dbErr(ctx, err))
	}
	defer rows.Close()
	out := []*core.Session{}
	var total int64
	for rows.Next() {
		var extra []any
		if p.Limit > 0 {
			extra = []any{&total}
		}
		s, err := scanSession(rows, extra...)
		if err != nil {
			return nil, 0, fmt.Errorf("postgres: list sessions: %w", dbErr(ctx, err))
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("postgres: list sessions: %w", dbErr(ctx, err))
	}
	switch {
	case p.Limit <= 0:
		total = int64(len(out))
	case len(out) == 0:
		// A page past the end has no row to carry the count.
		if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM sessions`+where, args[:whereArgs]...).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("postgres: count sessions: %w", dbErr(ctx, err))
		}
	}
	return out, int(total), nil
}

// UpdateSession applies the non-nil fields of p (and UpdatedAt when it is
// not 0) in one statement and returns the session as stored after it.
func (st *Store) UpdateSession(ctx context.Context, p core.UpdateSessionParams) (*core.Session, error) {
	var (
		sets []string
		args []any
	)
	set := func(col string, v any) {
		args = append(args, v)
		sets = append(sets, col+" = $"+strconv.Itoa(len(args)))
	}
	if p.SessionName != nil {
		set("session_name", txt(*p.SessionName))
	}
	if p.SessionState != nil {
		v, err := jsonColumn("session_state", p.SessionState)
		if err != nil {
			return nil, err
		}
		set("session_state", v)
	}
	if p.Metadata != nil {
		v, err := jsonColumn("metadata", p.Metadata)
		if err != nil {
			return nil, err
		}
		set("metadata", v)
	}
	if p.Summary != nil {
		set("summary", txt(*p.Summary))
	}
	if p.UpdatedAt != 0 {
		set("updated_at", p.UpdatedAt)
	}
	if len(sets) == 0 {
		return st.GetSession(ctx, p.SessionID)
	}
	args = append(args, txt(p.SessionID))
	s, err := scanSession(st.pool.QueryRow(ctx, `UPDATE sessions SET `+strings.Join(sets, ", ")+
		` WHERE session_id = $`+strconv.Itoa(len(args))+` RETURNING `+sessionColumns, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("session %q: %w", p.SessionID, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: update session %q: %w", p.SessionID, dbErr(ctx, err))
	}
	return s, nil
}

// DeleteSessions deletes the sessions and every run of them, in one
// statement (so one transaction). Missing ids are ignored; it returns how
// many sessions were deleted.
func (st *Store) DeleteSessions(ctx context.Context, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	var n int64
	err := st.pool.QueryRow(ctx, `WITH
		gone_runs AS (DELETE FROM runs WHERE session_id = ANY($1::text[])),
		gone AS (DELETE FROM sessions WHERE session_id = ANY($1::text[]) RETURNING 1)
		SELECT count(*) FROM gone`, txts(ids)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete sessions: %w", dbErr(ctx, err))
	}
	return int(n), nil
}
