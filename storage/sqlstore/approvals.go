package sqlstore

// The approvals' part of the RunStore (core.ApprovalStore), written once
// for both dialects, and the INSERT both backends run inside a run write
// (Run.NewApprovals).

import (
	"context"
	"fmt"
	"maps"

	"github.com/agentgate/agentgate/core"
)

// ApprovalColumns are the approvals columns, in scan and bind order
// (approvalValues, scanApproval).
var ApprovalColumns = Columns{"id", "run_id", "session_id", "status", "source_type", "approval_type",
	"pause_type", "tool_name", "tool_args", "tool_call_ids", "agent_id", "team_id", "workflow_id",
	"user_id", "schedule_id", "schedule_run_id", "source_name", "requirements", "context",
	"resolution_data", "resolved_by", "auto_continue", "expires_at", "resolved_at", "created_at",
	"updated_at"}

// approvalSelect reads ApprovalColumns of the approvals a, then the status
// of its run (” when the run is gone): Approval.RunStatus is looked up
// live, never stored.
var (
	approvalSelect = prefixed("a", ApprovalColumns) + ", COALESCE(r.status, '')"
	approvalFrom   = "approvals a LEFT JOIN runs r ON r.run_id = a.run_id"
)

func prefixed(alias string, cols Columns) string {
	out := make(Columns, len(cols))
	for i, c := range cols {
		out[i] = alias + "." + c
	}
	return out.String()
}

// Approvals implements core.ApprovalStore (get, list, resolve, delete,
// annotate) on a backend's approvals table. Approvals are created only
// with the run writes that pause runs (ApprovalInsert, in the backend's
// run transaction). A backend embeds it in its store.
type Approvals struct{ db *DB }

// NewApprovals returns the approval store of db.
func NewApprovals(db *DB) *Approvals { return &Approvals{db: db} }

// scanApproval scans approvalSelect's columns, then extra.
func scanApproval(d Dialect, row Row, extra ...any) (*core.Approval, error) {
	var (
		a                    core.Approval
		status, source, kind string
		runStatus            string
		f                    Fields
	)
	f.Add(&a.ID, &a.RunID, &a.SessionID, &status, &source, &kind, &a.PauseType, &a.ToolName)
	f.JSON(d, "tool_args", &a.ToolArgs)
	f.JSON(d, "tool_call_ids", &a.ToolCallIDs)
	f.Add(&a.AgentID, &a.TeamID, &a.WorkflowID, &a.UserID, &a.ScheduleID, &a.ScheduleRunID, &a.SourceName)
	f.JSON(d, "requirements", &a.Requirements)
	f.JSON(d, "context", &a.Context)
	f.JSON(d, "resolution_data", &a.ResolutionData)
	f.Add(&a.ResolvedBy, &a.AutoContinue, &a.ExpiresAt, &a.ResolvedAt, &a.CreatedAt, &a.UpdatedAt, &runStatus)
	if err := f.Scan(row, extra...); err != nil {
		return nil, err
	}
	a.Status, a.SourceType, a.ApprovalType = core.ApprovalStatus(status), core.Kind(source), core.ApprovalType(kind)
	a.RunStatus = core.RunStatus(runStatus)
	return &a, nil
}

// approvalValues returns a's column values in ApprovalColumns order, its
// JSON columns encoded for d.
func approvalValues(d Dialect, a *core.Approval) ([]any, error) {
	if a == nil || a.ID == "" {
		return nil, fmt.Errorf("%s: create approval: id is required: %w", d.Name, core.ErrInvalid)
	}
	if !a.Status.Valid() {
		return nil, fmt.Errorf("%s: create approval %q: status %q is not an approval status: %w", d.Name, a.ID, a.Status, core.ErrInvalid)
	}
	var js [5]any
	for i, c := range []struct {
		name string
		v    any
	}{
		{"tool_args", a.ToolArgs},
		{"tool_call_ids", a.ToolCallIDs},
		{"requirements", a.Requirements},
		{"context", a.Context},
		{"resolution_data", a.ResolutionData},
	} {
		v, err := EncodeJSON(d, c.name, c.v)
		if err != nil {
			return nil, fmt.Errorf("approval %q: %w: %w", a.ID, err, core.ErrInvalid)
		}
		js[i] = v
	}
	return []any{a.ID, a.RunID, a.SessionID, string(a.Status), string(a.SourceType), string(a.ApprovalType),
		a.PauseType, a.ToolName, js[0], js[1], a.AgentID, a.TeamID, a.WorkflowID,
		a.UserID, a.ScheduleID, a.ScheduleRunID, a.SourceName, js[2], js[3],
		js[4], a.ResolvedBy, a.AutoContinue, a.ExpiresAt, a.ResolvedAt, a.CreatedAt,
		a.UpdatedAt}, nil
}

// insertApprovalSQL inserts one approval unless its id is taken.
var insertApprovalSQL = `INSERT INTO approvals (` + ApprovalColumns.String() + `)
	VALUES (` + ApprovalColumns.Placeholders() + `) ON CONFLICT (id) DO NOTHING`

// ApprovalInsert is the INSERT of a run write's new approvals
// (core.Run.NewApprovals), their values encoded ahead: a backend builds it
// before it enters its write path (only when there are approvals: a run
// write without any pays nothing) and runs it in the run's transaction.
type ApprovalInsert struct {
	ids  []string
	args [][]any
}

// NewApprovalInsert encodes as for d. An approval without an id or with an
// unknown status is core.ErrInvalid.
func NewApprovalInsert(d Dialect, as []*core.Approval) (*ApprovalInsert, error) {
	ins := &ApprovalInsert{ids: make([]string, len(as)), args: make([][]any, len(as))}
	for i, a := range as {
		vals, err := approvalValues(d, a)
		if err != nil {
			return nil, err
		}
		ins.ids[i], ins.args[i] = a.ID, vals
	}
	return ins, nil
}

// Exec inserts the approvals on q, the run write's transaction (a Querier
// of the DB, or Bind's). An id already stored (or twice in the list) is
// core.ErrConflict: the caller's transaction must then roll back, the run
// write with it.
func (ins *ApprovalInsert) Exec(ctx context.Context, q Querier) error {
	for i, args := range ins.args {
		n, err := q.Exec(ctx, insertApprovalSQL, args...)
		if err != nil {
			return fmt.Errorf("create approval %q: %w", ins.ids[i], err)
		}
		if n != 1 {
			return fmt.Errorf("approval %q already exists: %w", ins.ids[i], core.ErrConflict)
		}
	}
	return nil
}

// GetApproval returns the approval with id (with its run's status), or
// core.ErrNotFound.
func (as *Approvals) GetApproval(ctx context.Context, id string) (*core.Approval, error) {
	var a *core.Approval
	err := as.db.ReadStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		a, err = scanApproval(as.db.d, q.QueryRow(ctx,
			`SELECT `+approvalSelect+` FROM `+approvalFrom+` WHERE a.id = ?`, id))
		return err
	})
	if isNoRows(err) {
		return nil, fmt.Errorf("approval %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: get approval %q: %w", as.db.d.Name, id, as.db.Err(ctx, err))
	}
	return a, nil
}

// ListApprovals returns one page of the approvals matching p, newest first
// (created_at, then id in byte order, both descending), and how many match
// in all. Limit <= 0 returns every match; Page < 1 is page 1. An unknown
// status in p.Statuses is core.ErrInvalid.
func (as *Approvals) ListApprovals(ctx context.Context, p core.ListApprovalsParams) ([]*core.Approval, int, error) {
	d := as.db.d
	for _, st := range p.Statuses {
		if !st.Valid() {
			return nil, 0, fmt.Errorf("status %q: must be pending, approved, rejected, expired or cancelled: %w", st, core.ErrInvalid)
		}
	}
	var (
		conds []string
		args  []any
	)
	cond := func(c string, vals ...any) { conds, args = append(conds, c), append(args, vals...) }
	eq := func(col, v string) {
		if v != "" {
			cond("a."+col+" = ?", v)
		}
	}
	switch {
	case len(p.Statuses) == 1 && p.Statuses[0] == core.ApprovalPending:
		// A literal, not a bound value: the condition then implies the
		// partial index of the pending approvals' expiry (the expiry
		// sweep's list) to both planners.
		cond("a.status = 'pending'")
	case len(p.Statuses) > 0:
		ss := make([]string, len(p.Statuses))
		for i, s := range p.Statuses {
			ss[i] = string(s)
		}
		c, vals := d.InStrings("a.status", ss)
		cond(c, vals...)
	}
	eq("source_type", string(p.SourceType))
	eq("approval_type", string(p.ApprovalType))
	eq("pause_type", p.PauseType)
	eq("agent_id", p.AgentID)
	eq("team_id", p.TeamID)
	eq("workflow_id", p.WorkflowID)
	eq("user_id", p.UserID)
	eq("schedule_id", p.ScheduleID)
	eq("run_id", p.RunID)
	if p.ExpiresBefore != 0 {
		cond("a.expires_at IS NOT NULL AND a.expires_at < ?", p.ExpiresBefore)
	}
	if p.ResolvedAfter != 0 {
		cond("a.resolved_at IS NOT NULL AND a.resolved_at >= ?", p.ResolvedAfter)
	}
	if p.AutoContinue {
		cond("a.auto_continue = ?", true)
	}
	l := List{Columns: approvalSelect, From: approvalFrom, Where: Where(conds), Args: args,
		OrderBy: " ORDER BY a.created_at DESC, " + d.ByteOrder("a.id") + " DESC",
		Page:    Page{Limit: p.Limit, Page: p.Page}}
	return collect(ctx, as.db, l, "list approvals", func(row Row, extra ...any) (*core.Approval, error) { return scanApproval(d, row, extra...) })
}

// resolveApprovalSQL is the compare-and-set from pending; it returns the
// approval as stored after it (and its run's status).
var resolveApprovalSQL = `UPDATE approvals SET status = ?, resolved_by = ?, resolution_data = ?,
	resolved_at = ?, updated_at = ? WHERE id = ? AND status = 'pending'
	RETURNING ` + ApprovalColumns.String() + `,
	COALESCE((SELECT r.status FROM runs r WHERE r.run_id = approvals.run_id), '')`

// ResolveApproval sets a pending approval's status, resolved_by,
// resolution_data, resolved_at and updated_at (both p.ResolvedAt) in one
// statement that matches only a pending approval, and returns the approval
// as stored after it. It is core.ErrNotFound when there is no such
// approval, core.ErrConflict when it is no longer pending (of concurrent
// resolutions, on any replica, exactly one succeeds) and core.ErrInvalid
// for a status other than approved, rejected, expired or cancelled.
func (as *Approvals) ResolveApproval(ctx context.Context, p core.ResolveApprovalParams) (*core.Approval, error) {
	d := as.db.d
	if p.ID == "" {
		return nil, fmt.Errorf("%s: resolve approval: id is required: %w", d.Name, core.ErrInvalid)
	}
	if !p.Status.Valid() || p.Status == core.ApprovalPending {
		return nil, fmt.Errorf("%s: resolve approval %q: status %q: must be approved, rejected, expired or cancelled: %w",
			d.Name, p.ID, p.Status, core.ErrInvalid)
	}
	data, err := EncodeJSON(d, "resolution_data", p.ResolutionData)
	if err != nil {
		return nil, fmt.Errorf("approval %q: %w: %w", p.ID, err, core.ErrInvalid)
	}
	var a *core.Approval
	err = as.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		a, err = scanApproval(d, q.QueryRow(ctx, resolveApprovalSQL,
			string(p.Status), p.ResolvedBy, data, p.ResolvedAt, p.ResolvedAt, p.ID))
		return err
	})
	if err == nil {
		return a, nil
	}
	if !isNoRows(err) {
		return nil, fmt.Errorf("%s: resolve approval %q: %w", d.Name, p.ID, as.db.Err(ctx, err))
	}
	// Missed: tell a missing approval from one already resolved.
	var status string
	err = as.db.ReadStmt(ctx, func(ctx context.Context, q Querier) error {
		return q.QueryRow(ctx, `SELECT status FROM approvals WHERE id = ?`, p.ID).Scan(&status)
	})
	switch {
	case isNoRows(err):
		return nil, fmt.Errorf("approval %q: %w", p.ID, core.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("%s: resolve approval %q: %w", d.Name, p.ID, as.db.Err(ctx, err))
	}
	return nil, fmt.Errorf("approval %q is %s, not pending: %w", p.ID, status, core.ErrConflict)
}

// DeleteApproval deletes the approval with id, or is core.ErrNotFound.
func (as *Approvals) DeleteApproval(ctx context.Context, id string) error {
	var n int64
	err := as.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `DELETE FROM approvals WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: delete approval %q: %w", as.db.d.Name, id, as.db.Err(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("approval %q: %w", id, core.ErrNotFound)
	}
	return nil
}

// AnnotateApproval merges the keys of kv into the approval's Context
// (a key given replaces the stored one; the others stay), whatever its
// status, in one transaction (on PostgreSQL the row is locked between the
// read and the write, so concurrent annotations all land). It changes
// nothing else, not even updated_at. A missing approval is
// core.ErrNotFound.
func (as *Approvals) AnnotateApproval(ctx context.Context, id string, kv map[string]any) error {
	d := as.db.d
	sel := `SELECT context FROM approvals WHERE id = ?`
	if d.Engine == Postgres {
		sel += ` FOR UPDATE`
	}
	err := as.db.Write(ctx, func(ctx context.Context, q Querier) error {
		var (
			cur map[string]any
			f   Fields
		)
		f.JSON(d, "context", &cur)
		if err := f.Scan(q.QueryRow(ctx, sel, id)); err != nil {
			return err
		}
		if len(kv) == 0 {
			return nil
		}
		if cur == nil {
			cur = make(map[string]any, len(kv))
		}
		maps.Copy(cur, kv)
		v, err := EncodeJSON(d, "context", cur)
		if err != nil {
			return fmt.Errorf("%w: %w", err, core.ErrInvalid)
		}
		_, err = q.Exec(ctx, `UPDATE approvals SET context = ? WHERE id = ?`, v, id)
		return err
	})
	if isNoRows(err) {
		return fmt.Errorf("approval %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s: annotate approval %q: %w", d.Name, id, as.db.Err(ctx, err))
	}
	return nil
}
