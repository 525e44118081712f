package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/storage/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const runColumns = `run_id, session_id, agent_id, agent_name, user_id, status, input, content,
	content_type, model, model_provider, messages, tools, requirements, metrics, error,
	error_type, cancel_requested, background, event_count, paused_state, created_at, updated_at,
	lease_owner, lease_until, team_id, workflow_id, parent_run_id, extra`

const runParams = 29 // len(runValues(...))

func scanRun(sc scanner) (*core.Run, error) {
	var (
		r                                             core.Run
		status                                        string
		input, messages, tools, reqs, metrics, paused []byte
		extra                                         []byte
	)
	if err := sc.Scan(&r.RunID, &r.SessionID, &r.AgentID, &r.AgentName, &r.UserID, &status,
		&input, &r.Content, &r.ContentType, &r.Model, &r.ModelProvider, &messages, &tools,
		&reqs, &metrics, &r.Error, &r.ErrorType, &r.CancelRequested, &r.Background,
		&r.EventCount, &paused, &r.CreatedAt, &r.UpdatedAt, &r.LeaseOwner, &r.LeaseUntil,
		&r.TeamID, &r.WorkflowID, &r.ParentRunID, &extra); err != nil {
		return nil, err
	}
	r.Status = core.RunStatus(status)
	for _, c := range []struct {
		name string
		col  []byte
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
	if err := sqlstore.DecodeRunExtra(&r, extra); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &r, nil
}

// runValues returns r's column values in runColumns order ($1 is run_id),
// in one slice with room for spare more arguments (the session's, or
// UpdateRun's conditions): the run write paths allocate it once.
func runValues(r *core.Run, spare int) ([]any, error) {
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
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if s, ok := extra.(string); ok {
		extra = sqlstore.NoNULEscapes(s)
	}
	vals := make([]any, 0, runParams+spare)
	return append(vals, txt(r.RunID), txt(r.SessionID), txt(r.AgentID), txt(r.AgentName), txt(r.UserID),
		txt(string(r.Status)), js[0], txt(r.Content), txt(r.ContentType), txt(r.Model),
		txt(r.ModelProvider), js[1], js[2], js[3], js[4],
		txt(r.Error), txt(r.ErrorType), r.CancelRequested, r.Background,
		r.EventCount, js[5], r.CreatedAt, r.UpdatedAt, txt(r.LeaseOwner), r.LeaseUntil,
		txt(r.TeamID), txt(r.WorkflowID), txt(r.ParentRunID), extra), nil
}

// CreateRun inserts r with its Paused state; a duplicate run_id is
// core.ErrConflict. The session need not exist.
func (st *Store) CreateRun(ctx context.Context, r *core.Run) error {
	if r == nil || r.RunID == "" {
		return fmt.Errorf("postgres: create run: run_id is required: %w", core.ErrInvalid)
	}
	vals, err := runValues(r, 0)
	if err != nil {
		return err
	}
	if len(r.NewApprovals) > 0 {
		return st.createRunWithApprovals(ctx, r, vals)
	}
	tag, err := st.pool.Exec(ctx, insertRunSQL, vals...)
	if err != nil {
		return fmt.Errorf("postgres: create run %q: %w", r.RunID, dbErr(ctx, err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("run %q already exists: %w", r.RunID, core.ErrConflict)
	}
	return nil
}

// insertRunSQL is CreateRun's statement.
var insertRunSQL = `INSERT INTO runs (` + runColumns + `)
		VALUES (` + placeholders(1, runParams) + `)
		ON CONFLICT (run_id) DO NOTHING`

// createRunInSessionSQL inserts the session ($26...) unless it exists and the
// run ($1...), in one statement: a duplicate run id fails the whole
// statement (unique_violation), so the session is not created either. It
// returns how many sessions it inserted (0 or 1).
var createRunInSessionSQL = `WITH new_session AS (
		INSERT INTO sessions (` + sessionColumns + `)
		VALUES (` + placeholders(runParams+1, sessionParams) + `)
		ON CONFLICT (session_id) DO NOTHING
		RETURNING 1)
	INSERT INTO runs (` + runColumns + `)
	VALUES (` + placeholders(1, runParams) + `)
	RETURNING (SELECT count(*) FROM new_session)`

// CreateRunInSession inserts s unless its session exists, and r, in one
// statement (one transaction). It reports whether the session was created.
// A duplicate run id is core.ErrConflict and creates nothing.
func (st *Store) CreateRunInSession(ctx context.Context, s *core.Session, r *core.Run) (bool, error) {
	if s == nil || r == nil || s.SessionID != r.SessionID {
		return false, fmt.Errorf("postgres: create run in session: the run must name the session: %w", core.ErrInvalid)
	}
	if r.RunID == "" {
		return false, fmt.Errorf("postgres: create run: run_id is required: %w", core.ErrInvalid)
	}
	args, err := runValues(r, sessionParams)
	if err != nil {
		return false, err
	}
	if args, err = appendSessionValues(args, s); err != nil {
		return false, err
	}
	var created int64
	scan := func(row pgx.Row) error { return row.Scan(&created) }
	if len(r.NewApprovals) > 0 {
		var aps *sqlstore.ApprovalInsert
		if aps, err = newApprovalInsert(r); err != nil {
			return false, err
		}
		err = st.writeRowWithApprovals(ctx, aps, createRunInSessionSQL, args, scan, nil)
	} else {
		err = st.writeRow(ctx, createRunInSessionSQL, args, scan)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation: runs.run_id
		return false, fmt.Errorf("run %q already exists: %w", r.RunID, core.ErrConflict)
	}
	if err != nil {
		return false, fmt.Errorf("postgres: create run %q: %w", r.RunID, dbErr(ctx, err))
	}
	return created == 1, nil
}

// GetRun returns the run with id, including its Paused state, or
// core.ErrNotFound.
func (st *Store) GetRun(ctx context.Context, id string) (*core.Run, error) {
	r, err := scanRun(st.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE run_id = $1`, txt(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("run %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get run %q: %w", id, dbErr(ctx, err))
	}
	return r, nil
}

// updateRunSQL is UpdateRun's one statement. $26, $27 and $28 are the
// conditions of core.UpdateRunParams (an empty array, 0 and ” when not
// set). It returns whether the row was updated and the run's status and
// lease as the statement's snapshot saw them (NULL: no such run), which
// only explain a miss. Under READ COMMITTED the UPDATE re-checks the
// conditions on a row another transaction changed meanwhile, so the
// compare-and-set holds under concurrency.
var updateRunSQL = `WITH
	prior AS (SELECT status, lease_owner, lease_until FROM runs WHERE run_id = $1),
	changed AS (
		UPDATE runs SET session_id = $2, agent_id = $3, agent_name = $4, user_id = $5,
			status = $6, input = $7, content = $8, content_type = $9, model = $10,
			model_provider = $11, messages = $12, tools = $13, requirements = $14,
			metrics = $15, error = $16, error_type = $17,
			cancel_requested = (runs.cancel_requested OR $18), background = $19,
			event_count = $20, paused_state = $21, created_at = $22, updated_at = $23,
			lease_owner = $24, lease_until = $25, team_id = $26, workflow_id = $27,
			parent_run_id = $28, extra = $29
		WHERE run_id = $1
			AND (cardinality($30::text[]) = 0 OR status = ANY($30::text[]))
			AND ($31::bigint = 0 OR lease_until < $31::bigint)
			AND ($32::text = '' OR lease_owner = $32::text)
		RETURNING 1)
	SELECT EXISTS (SELECT 1 FROM changed), prior.status, prior.lease_owner, prior.lease_until
	FROM (SELECT) AS one LEFT JOIN prior ON true`

// UpdateRun replaces the stored run r.RunID with r (its lease included), in
// one statement. The conditions of p make it a compare-and-set: the row
// changes only if its status is one of p.IfStatus (when not empty), its
// lease ends before p.IfLeaseExpiredBefore (when not 0) and its lease owner
// is p.IfLeaseOwner (when not empty); otherwise the result is
// core.ErrConflict (core.ErrNotFound if there is no such run).
//
// The cancel intent is sticky: once SetCancelRequested has recorded it,
// UpdateRun keeps it even when r.CancelRequested is false, so an executor
// writing back its own (older) copy of the run cannot erase a cancel that
// arrived meanwhile from another replica.
func (st *Store) UpdateRun(ctx context.Context, r *core.Run, p core.UpdateRunParams) error {
	if r == nil || r.RunID == "" {
		return fmt.Errorf("postgres: update run: run_id is required: %w", core.ErrInvalid)
	}
	vals, err := runValues(r, 3) // and the conditions
	if err != nil {
		return err
	}
	ifStatus := make([]string, len(p.IfStatus))
	for i, s := range p.IfStatus {
		ifStatus[i] = txt(string(s))
	}
	var (
		updated    bool
		status     *string
		owner      *string
		leaseUntil *int64
	)
	args := append(vals, ifStatus, p.IfLeaseExpiredBefore, txt(p.IfLeaseOwner))
	scan := func(row pgx.Row) error { return row.Scan(&updated, &status, &owner, &leaseUntil) }
	if len(r.NewApprovals) > 0 {
		// A failed compare-and-set inserts no approvals.
		var aps *sqlstore.ApprovalInsert
		if aps, err = newApprovalInsert(r); err != nil {
			return err
		}
		err = st.writeRowWithApprovals(ctx, aps, updateRunSQL, args, scan, func() bool { return updated })
	} else {
		err = st.writeRow(ctx, updateRunSQL, args, scan)
	}
	if err != nil {
		return fmt.Errorf("postgres: update run %q: %w", r.RunID, dbErr(ctx, err))
	}
	switch {
	case updated:
		return nil
	case status == nil:
		return fmt.Errorf("run %q: %w", r.RunID, core.ErrNotFound)
	case len(ifStatus) > 0 && !slices.Contains(ifStatus, *status):
		return fmt.Errorf("run %q is %s, not %s: %w", r.RunID, *status, joinStatuses(p.IfStatus), core.ErrConflict)
	case p.IfLeaseExpiredBefore != 0 && *leaseUntil >= p.IfLeaseExpiredBefore:
		return fmt.Errorf("run %q: its lease runs until %d, not before %d: %w",
			r.RunID, *leaseUntil, p.IfLeaseExpiredBefore, core.ErrConflict)
	case p.IfLeaseOwner != "" && *owner != txt(p.IfLeaseOwner):
		return fmt.Errorf("run %q: its lease is held by %q, not %q: %w", r.RunID, *owner, p.IfLeaseOwner, core.ErrConflict)
	default:
		return fmt.Errorf("run %q changed while it was being updated: %w", r.RunID, core.ErrConflict)
	}
}

// renewLeaseSQL is RenewLease's one statement, shaped like updateRunSQL.
var renewLeaseSQL = `WITH
	prior AS (SELECT status, lease_owner FROM runs WHERE run_id = $1),
	changed AS (
		UPDATE runs SET lease_until = $3
		WHERE run_id = $1 AND status = 'RUNNING' AND lease_owner = $2
		RETURNING 1)
	SELECT EXISTS (SELECT 1 FROM changed), prior.status, prior.lease_owner
	FROM (SELECT) AS one LEFT JOIN prior ON true`

// RenewLease sets the lease of the RUNNING run p.RunID held by p.Owner to
// end at p.Until, in one statement that changes nothing else (not even
// updated_at). It is core.ErrConflict when the run is not RUNNING or its
// lease is another owner's, core.ErrNotFound when there is no such run, and
// core.ErrInvalid without a run id or an owner.
func (st *Store) RenewLease(ctx context.Context, p core.LeaseParams) error {
	if p.RunID == "" || p.Owner == "" {
		return fmt.Errorf("postgres: renew lease: run id and owner are required: %w", core.ErrInvalid)
	}
	var (
		renewed       bool
		status, owner *string
	)
	if err := st.pool.QueryRow(ctx, renewLeaseSQL, txt(p.RunID), txt(p.Owner), p.Until).Scan(&renewed, &status, &owner); err != nil {
		return fmt.Errorf("postgres: renew lease of run %q: %w", p.RunID, dbErr(ctx, err))
	}
	switch {
	case renewed:
		return nil
	case status == nil:
		return fmt.Errorf("run %q: %w", p.RunID, core.ErrNotFound)
	case *status != string(core.RunRunning):
		return fmt.Errorf("run %q is %s, not RUNNING: %w", p.RunID, *status, core.ErrConflict)
	case *owner != txt(p.Owner):
		return fmt.Errorf("run %q: its lease is held by %q, not %q: %w", p.RunID, *owner, p.Owner, core.ErrConflict)
	default:
		return fmt.Errorf("run %q changed while its lease was being renewed: %w", p.RunID, core.ErrConflict)
	}
}

// ListExpiredLeases returns up to limit (<= 0: 100, as on SQLite) PENDING or
// RUNNING runs whose lease ended before now (Unix milliseconds), oldest lease
// first (ties in insertion order). A run without a lease (lease_until 0) is
// not listed: nothing says its executor vanished.
func (st *Store) ListExpiredLeases(ctx context.Context, now int64, limit int) ([]*core.Run, error) {
	if limit <= 0 {
		limit = 100
	}
	// The conditions match runs_expired_lease_idx's predicate literally, so
	// the planner can use that partial index.
	return st.queryRuns(ctx, "list expired leases", `SELECT `+runColumns+` FROM runs
		WHERE status IN ('PENDING', 'RUNNING') AND lease_until > 0 AND lease_until < $1
		ORDER BY lease_until ASC, seq ASC LIMIT $2`, now, limit)
}

func joinStatuses(ss []core.RunStatus) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, " or ")
}

// SetCancelRequested records the intent to cancel the run and returns the
// run as stored after that. It changes nothing else (not even updated_at)
// and may be called any number of times, in any status.
func (st *Store) SetCancelRequested(ctx context.Context, id string) (*core.Run, error) {
	r, err := scanRun(st.pool.QueryRow(ctx,
		`UPDATE runs SET cancel_requested = true WHERE run_id = $1 RETURNING `+runColumns, txt(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("run %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: cancel run %q: %w", id, dbErr(ctx, err))
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
		args = append(args, v)
		conds = append(conds, cond+" $"+strconv.Itoa(len(args)))
	}
	if p.SessionID != "" {
		add("session_id =", txt(p.SessionID))
	}
	if p.AgentID != "" {
		add("agent_id =", txt(p.AgentID))
	}
	if p.UserID != "" {
		add("user_id =", txt(p.UserID))
	}
	if p.TeamID != "" {
		add("team_id =", txt(p.TeamID))
	}
	if p.WorkflowID != "" {
		add("workflow_id =", txt(p.WorkflowID))
	}
	if p.ParentRunID != "" {
		add("parent_run_id =", txt(p.ParentRunID))
	}
	if p.TopLevel {
		conds = append(conds, "parent_run_id = ''")
	}
	if p.Status != "" {
		add("status =", txt(string(p.Status)))
	}
	if p.CreatedAfter != 0 {
		add("created_at >=", p.CreatedAfter)
	}
	if p.CreatedBefore != 0 {
		add("created_at <=", p.CreatedBefore)
	}
	q := `SELECT ` + runColumns + ` FROM runs`
	if len(conds) > 0 {
		q += ` WHERE ` + strings.Join(conds, " AND ")
	}
	q += ` ORDER BY created_at ASC, seq ASC`
	if p.Limit > 0 {
		args = append(args, p.Limit)
		q += ` LIMIT $` + strconv.Itoa(len(args))
	}
	return st.queryRuns(ctx, "list runs", q, args...)
}

// queryRuns runs q, which selects runColumns, and scans every row.
func (st *Store) queryRuns(ctx context.Context, op, q string, args ...any) ([]*core.Run, error) {
	rows, err := st.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, dbErr(ctx, err))
	}
	defer rows.Close()
	out := []*core.Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: %s: %w", op, dbErr(ctx, err))
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, dbErr(ctx, err))
	}
	return out, nil
}
