package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/storage/sqlstore"
)

const runColumns = runBaseColumns + `, ` + runKindColumns

// runBaseColumns are the columns every run sets; runKindColumns, last, are
// those only teams', workflows' and child runs set (an agent's top-level
// run leaves them to their defaults: ” and NULL).
const (
	runBaseColumns = `run_id, session_id, agent_id, agent_name, user_id, status, input, content,
	content_type, model, model_provider, messages, tools, requirements, metrics, error,
	error_type, cancel_requested, background, event_count, paused_state, created_at, updated_at,
	lease_owner, lease_until`
	runKindColumns = `team_id, workflow_id, parent_run_id, extra`
	runKindCount   = 4 // in runKindColumns
)

func scanRun(sc scanner) (*core.Run, error) {
	var (
		r                                      core.Run
		status                                 string
		input                                  sql.NullString
		messages, tools, reqs, metrics, paused sql.NullString
		extra                                  sql.NullString
	)
	if err := sc.Scan(&r.RunID, &r.SessionID, &r.AgentID, &r.AgentName, &r.UserID, &status,
		&input, &r.Content, &r.ContentType, &r.Model, &r.ModelProvider, &messages, &tools,
		&reqs, &metrics, &r.Error, &r.ErrorType, &r.CancelRequested, &r.Background,
		&r.EventCount, &paused, &r.CreatedAt, &r.UpdatedAt, &r.LeaseOwner, &r.LeaseUntil,
		&r.TeamID, &r.WorkflowID, &r.ParentRunID, &extra); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		return nil, fmt.Errorf("sqlite: scan run: %w", err)
	}
	r.Status = core.RunStatus(status)
	for _, c := range []struct {
		name string
		col  sql.NullString
		dst  any
	}{
		{"input", input, &r.Input},
		{"messages", messages, &r.Messages},
		{"tools", tools, &r.Tools},
		{"requirements", reqs, &r.Requirements},
		{"metrics", metrics, &r.Metrics},
		{"paused_state", paused, &r.Paused},
	} {
		if err := decodeJSON(c.name, c.col, c.dst); err != nil {
			return nil, fmt.Errorf("run %q: %w", r.RunID, err)
		}
	}
	if extra.Valid {
		if err := sqlstore.DecodeRunExtra(&r, []byte(extra.String)); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
	}
	return &r, nil
}

// runValueCount is how many values runArgs returns after run_id.
const runValueCount = 28

// runArgs returns run_id and r's other column values, in runColumns order,
// in one slice with room for spare more arguments (UpdateRun's): the run
// write paths allocate it once instead of piece by piece.
func runArgs(r *core.Run, spare int) ([]any, error) {
	// The JSON columns: input, messages, tools, requirements, metrics,
	// paused_state (the input by pointer: boxing the struct would copy it).
	var js [6]any
	for i, c := range [...]struct {
		name string
		v    any
	}{
		{"input", &r.Input}, {"messages", r.Messages}, {"tools", r.Tools},
		{"requirements", r.Requirements}, {"metrics", r.Metrics}, {"paused_state", r.Paused},
	} {
		v, err := jsonColumn(c.name, c.v)
		if err != nil {
			return nil, err
		}
		js[i] = v
	}
	extra, err := sqlstore.EncodeRunExtra(r)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	args := make([]any, 0, 1+runValueCount+spare)
	return append(args, r.RunID, r.SessionID, r.AgentID, r.AgentName, r.UserID, string(r.Status), js[0],
		r.Content, r.ContentType, r.Model, r.ModelProvider, js[1], js[2], js[3], js[4],
		r.Error, r.ErrorType, r.CancelRequested, r.Background, r.EventCount,
		js[5], r.CreatedAt, r.UpdatedAt, r.LeaseOwner, r.LeaseUntil,
		r.TeamID, r.WorkflowID, r.ParentRunID, extra), nil
}

// CreateRun inserts r with its Paused state; a duplicate run_id is
// core.ErrConflict.
func (st *Store) CreateRun(ctx context.Context, r *core.Run) error {
	ins, err := newRunInsert(r)
	if err != nil {
		return err
	}
	aps, err := newApprovalInsert(r)
	if err != nil {
		return err
	}
	return st.write(ctx, func(ctx context.Context, tx *wtx) error {
		if err := ins.exec(ctx, tx); err != nil {
			return err
		}
		return aps.exec(ctx, tx)
	})
}

// CreateRunInSession inserts s unless its session exists, and r, in one
// transaction.
func (st *Store) CreateRunInSession(ctx context.Context, s *core.Session, r *core.Run) (bool, error) {
	if s == nil || r == nil || s.SessionID != r.SessionID {
		return false, fmt.Errorf("sqlite: create run in session: the run must name the session: %w", core.ErrInvalid)
	}
	// Encoded here, by the caller, so the writer goroutine only executes.
	sins, err := newSessionInsert(s)
	if err != nil {
		return false, err
	}
	ins, err := newRunInsert(r)
	if err != nil {
		return false, err
	}
	aps, err := newApprovalInsert(r)
	if err != nil {
		return false, err
	}
	var created bool
	err = st.write(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		if created, err = sins.exec(ctx, tx); err != nil {
			return err
		}
		if err := ins.exec(ctx, tx); err != nil {
			return err
		}
		return aps.exec(ctx, tx)
	})
	return created && err == nil, err
}

// runInsert is a run's INSERT, its values encoded.
type runInsert struct {
	id   string
	sql  string // insertRunSQL or insertBaseRunSQL
	args []any
}

func newRunInsert(r *core.Run) (*runInsert, error) {
	if r == nil || r.RunID == "" {
		return nil, fmt.Errorf("sqlite: create run: run_id is required: %w", core.ErrInvalid)
	}
	args, err := runArgs(r, 0)
	if err != nil {
		return nil, err
	}
	if len(args) != 1+runValueCount {
		return nil, fmt.Errorf("sqlite: create run: %d values for %d columns", len(args), 1+runValueCount)
	}
	ins := &runInsert{id: r.RunID, sql: insertRunSQL, args: args}
	if r.TeamID == "" && r.WorkflowID == "" && r.ParentRunID == "" && args[len(args)-1] == nil {
		// An agent's top-level run: the kind columns keep their defaults,
		// the same row with four values fewer to bind (the driver copies
		// every text value it binds, even an empty one).
		ins.sql, ins.args = insertBaseRunSQL, args[:len(args)-runKindCount]
	}
	return ins, nil
}

// insertRunSQL inserts one run: runArgs. insertBaseRunSQL inserts a run
// without its kind columns: runArgs but the last runKindCount.
var (
	insertRunSQL = `INSERT INTO runs (` + runColumns + `)
		VALUES (?, ` + placeholders(runValueCount) + `)
		ON CONFLICT (run_id) DO NOTHING`
	insertBaseRunSQL = `INSERT INTO runs (` + runBaseColumns + `)
		VALUES (?, ` + placeholders(runValueCount-runKindCount) + `)
		ON CONFLICT (run_id) DO NOTHING`
)

func (ins *runInsert) exec(ctx context.Context, ex execer) error {
	res, err := ex.ExecContext(ctx, ins.sql, ins.args...)
	if err != nil {
		return fmt.Errorf("sqlite: create run %q: %w", ins.id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: create run %q: %w", ins.id, err)
	} else if n == 0 {
		return fmt.Errorf("run %q already exists: %w", ins.id, core.ErrConflict)
	}
	return nil
}

// GetRun returns the run with id, including its Paused state, or
// core.ErrNotFound.
func (st *Store) GetRun(ctx context.Context, id string) (*core.Run, error) {
	r, err := scanRun(st.r.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE run_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("run %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get run %q: %w", id, err)
	}
	return r, nil
}

// UpdateRun replaces the stored run r.RunID with r, in one statement. With
// p.IfStatus it is a compare-and-set: the row changes only if its status is
// one of them, otherwise the result is core.ErrConflict (core.ErrNotFound if
// there is no such run).
//
// The cancel intent is sticky: once SetCancelRequested has recorded it,
// UpdateRun keeps it even when r.CancelRequested is false, so an executor
// writing back its own (older) copy of the run cannot erase a cancel that
// arrived meanwhile from another replica.
func (st *Store) UpdateRun(ctx context.Context, r *core.Run, p core.UpdateRunParams) error {
	if r == nil || r.RunID == "" {
		return fmt.Errorf("sqlite: update run: run_id is required: %w", core.ErrInvalid)
	}
	// The values but run_id, then run_id and the conditions, in place.
	vals, err := runArgs(r, 3+len(p.IfStatus))
	if err != nil {
		return err
	}
	q := updateRunSQL(len(p.IfStatus), p.IfLeaseExpiredBefore != 0, p.IfLeaseOwner != "")
	args := append(vals[1:], r.RunID)
	for _, s := range p.IfStatus {
		args = append(args, string(s))
	}
	if p.IfLeaseExpiredBefore != 0 {
		args = append(args, p.IfLeaseExpiredBefore)
	}
	if p.IfLeaseOwner != "" {
		args = append(args, p.IfLeaseOwner)
	}

	// The writer pool has one connection, so this transaction is the only
	// writer; BEGIN IMMEDIATE also excludes other processes. The UPDATE is
	// the compare-and-set; the SELECT only explains a miss.
	aps, err := newApprovalInsert(r)
	if err != nil {
		return err
	}
	return st.write(ctx, func(ctx context.Context, tx *wtx) error {
		if err := updateRun(ctx, tx, r, p, q, args); err != nil {
			return err // a failed compare-and-set inserts no approvals
		}
		return aps.exec(ctx, tx)
	})
}

// updateRunSQL is UpdateRun's statement: runArgs but run_id, run_id, then
// the conditions set (nStatus statuses, the lease's end, its owner). The
// shapes the engine uses are built once, not for every run it ends.
func updateRunSQL(nStatus int, expired, owner bool) string {
	if nStatus < len(updateRunSQLs) {
		return updateRunSQLs[nStatus][b2i(expired)][b2i(owner)]
	}
	return buildUpdateRunSQL(nStatus, expired, owner)
}

var updateRunSQLs = func() (t [4][2][2]string) {
	for n := range t {
		for e := range 2 {
			for o := range 2 {
				t[n][e][o] = buildUpdateRunSQL(n, e == 1, o == 1)
			}
		}
	}
	return t
}()

func buildUpdateRunSQL(nStatus int, expired, owner bool) string {
	q := `UPDATE runs SET session_id = ?, agent_id = ?, agent_name = ?, user_id = ?, status = ?,
		input = ?, content = ?, content_type = ?, model = ?, model_provider = ?, messages = ?,
		tools = ?, requirements = ?, metrics = ?, error = ?, error_type = ?,
		cancel_requested = (cancel_requested OR ?), background = ?, event_count = ?,
		paused_state = ?, created_at = ?, updated_at = ?, lease_owner = ?, lease_until = ?,
		team_id = ?, workflow_id = ?, parent_run_id = ?, extra = ?
		WHERE run_id = ?`
	if nStatus > 0 {
		q += ` AND status IN (` + placeholders(nStatus) + `)`
	}
	if expired {
		q += ` AND lease_until < ?`
	}
	if owner {
		q += ` AND lease_owner = ?`
	}
	return q
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func updateRun(ctx context.Context, tx *wtx, r *core.Run, p core.UpdateRunParams, q string, args []any) error {
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("sqlite: update run %q: %w", r.RunID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: update run %q: %w", r.RunID, err)
	}
	if n == 0 {
		var cur string
		err := tx.QueryRowContext(ctx, `SELECT status FROM runs WHERE run_id = ?`, r.RunID).Scan(&cur)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("run %q: %w", r.RunID, core.ErrNotFound)
		case err != nil:
			return fmt.Errorf("sqlite: update run %q: %w", r.RunID, err)
		}
		return fmt.Errorf("run %q is %s, not %s: %w", r.RunID, cur, joinStatuses(p.IfStatus), core.ErrConflict)
	}
	return nil
}

func joinStatuses(ss []core.RunStatus) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, " or ")
}

// RenewLease extends the lease of a RUNNING run its owner holds.
func (st *Store) RenewLease(ctx context.Context, p core.LeaseParams) error {
	if p.RunID == "" || p.Owner == "" {
		return fmt.Errorf("sqlite: renew lease: run id and owner are required: %w", core.ErrInvalid)
	}
	return st.write(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE runs SET lease_until = ?
			WHERE run_id = ? AND status = 'RUNNING' AND lease_owner = ?`, p.Until, p.RunID, p.Owner)
		if err != nil {
			return fmt.Errorf("sqlite: renew lease of run %q: %w", p.RunID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: renew lease of run %q: %w", p.RunID, err)
		} else if n == 1 {
			return nil
		}
		var status, owner string
		err = tx.QueryRowContext(ctx, `SELECT status, lease_owner FROM runs WHERE run_id = ?`, p.RunID).Scan(&status, &owner)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("run %q: %w", p.RunID, core.ErrNotFound)
		case err != nil:
			return fmt.Errorf("sqlite: renew lease of run %q: %w", p.RunID, err)
		}
		return fmt.Errorf("run %q is %s with lease owner %q, not %q: %w", p.RunID, status, owner, p.Owner, core.ErrConflict)
	})
}

// ListExpiredLeases returns PENDING or RUNNING runs whose lease ended
// before now.
func (st *Store) ListExpiredLeases(ctx context.Context, now int64, limit int) ([]*core.Run, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := st.r.QueryContext(ctx, `SELECT `+runColumns+` FROM runs
		WHERE status IN ('PENDING', 'RUNNING') AND lease_until > 0 AND lease_until < ?
		ORDER BY lease_until LIMIT ?`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list expired leases: %w", err)
	}
	defer rows.Close()
	var out []*core.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list expired leases: %w", err)
	}
	return out, nil
}

// SetCancelRequested records the intent to cancel the run and returns the
// run as stored after that. It changes nothing else (not even updated_at)
// and may be called any number of times, in any status.
func (st *Store) SetCancelRequested(ctx context.Context, id string) (*core.Run, error) {
	var r *core.Run
	err := st.write(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		r, err = scanRun(tx.QueryRowContext(ctx,
			`UPDATE runs SET cancel_requested = 1 WHERE run_id = ? RETURNING `+runColumns, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("run %q: %w", id, core.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: cancel run %q: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// ListRuns returns the runs matching p, oldest first (created_at, then
// insertion order), each with its Paused state.
func (st *Store) ListRuns(ctx context.Context, p core.ListRunsParams) ([]*core.Run, error) {
	var (
		conds []string
		args  []any
	)
	add := func(cond string, v any) {
		conds, args = append(conds, cond), append(args, v)
	}
	if p.SessionID != "" {
		add("session_id = ?", p.SessionID)
	}
	if p.AgentID != "" {
		add("agent_id = ?", p.AgentID)
	}
	if p.UserID != "" {
		add("user_id = ?", p.UserID)
	}
	if p.TeamID != "" {
		add("team_id = ?", p.TeamID)
	}
	if p.WorkflowID != "" {
		add("workflow_id = ?", p.WorkflowID)
	}
	if p.ParentRunID != "" {
		add("parent_run_id = ?", p.ParentRunID)
	}
	if p.TopLevel {
		conds = append(conds, "parent_run_id = ''")
	}
	if p.Status != "" {
		add("status = ?", string(p.Status))
	}
	if p.CreatedAfter != 0 {
		add("created_at >= ?", p.CreatedAfter)
	}
	if p.CreatedBefore != 0 {
		add("created_at <= ?", p.CreatedBefore)
	}
	q := `SELECT ` + runColumns + ` FROM runs`
	if len(conds) > 0 {
		q += ` WHERE ` + strings.Join(conds, " AND ")
	}
	q += ` ORDER BY created_at ASC, seq ASC`
	if p.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, p.Limit)
	}
	rows, err := st.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list runs: %w", err)
	}
	defer rows.Close()
	out := []*core.Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list runs: %w", err)
	}
	return out, nil
}
