package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/storage/sqlstore"
)

// Approvals are storage/sqlstore's (sqlstore.go); what is here is the run
// writes that insert a run's NewApprovals with the run, in one
// transaction. They do not go through the group commit (whose writes are
// one statement each): a write with approvals pauses a run, which is rare,
// and a write without any (every other) takes the path it always took.

// newApprovalInsert encodes r's NewApprovals; it is nil when there are
// none.
func newApprovalInsert(r *core.Run) (*sqlstore.ApprovalInsert, error) {
	if r == nil || len(r.NewApprovals) == 0 {
		return nil, nil
	}
	return sqlstore.NewApprovalInsert(dialect, r.NewApprovals)
}

// insertApprovals inserts aps in tx; a duplicate id is core.ErrConflict
// (the caller's transaction then rolls back, the run's write with it).
func insertApprovals(ctx context.Context, tx pgx.Tx, aps *sqlstore.ApprovalInsert) error {
	if aps == nil {
		return nil
	}
	return aps.Exec(ctx, sqlstore.Bind(dialect, querier{tx}))
}

// writeRowWithApprovals is writeRow for a write that inserts approvals
// too: the statement, then the approvals, in one transaction of its own.
// ok, when set, is asked after the scan whether the statement did write
// (UpdateRun's compare-and-set); when it did not, no approval is inserted.
func (st *Store) writeRowWithApprovals(ctx context.Context, aps *sqlstore.ApprovalInsert, sql string, args []any,
	scan func(pgx.Row) error, ok func() bool) error {
	return pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
		if err := scan(tx.QueryRow(ctx, sql, args...)); err != nil {
			return err
		}
		if ok != nil && !ok() {
			return nil
		}
		return insertApprovals(ctx, tx, aps)
	})
}

// createRunWithApprovals is CreateRun for a run with NewApprovals.
func (st *Store) createRunWithApprovals(ctx context.Context, r *core.Run, vals []any) error {
	aps, err := newApprovalInsert(r)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, insertRunSQL, vals...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("run %q already exists: %w", r.RunID, core.ErrConflict)
		}
		return insertApprovals(ctx, tx, aps)
	})
	if err != nil {
		return fmt.Errorf("postgres: create run %q: %w", r.RunID, dbErr(ctx, err))
	}
	return nil
}
