package sqlite

import (
	"context"
	"fmt"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/storage/sqlstore"
)

// Approvals are storage/sqlstore's (sqlstore.go); what is here is the
// INSERT of a run's NewApprovals as the run paths run it, in the write of
// the run.

// approvalInsert is the INSERT of a run write's new approvals, encoded
// ahead; nil (a run write without approvals, the common case) executes
// nothing.
type approvalInsert struct{ *sqlstore.ApprovalInsert }

// newApprovalInsert encodes r's NewApprovals; it is nil when there are
// none.
func newApprovalInsert(r *core.Run) (*approvalInsert, error) {
	if r == nil || len(r.NewApprovals) == 0 {
		return nil, nil
	}
	ins, err := sqlstore.NewApprovalInsert(dialect, r.NewApprovals)
	if err != nil {
		return nil, err
	}
	return &approvalInsert{ins}, nil
}

// exec inserts the approvals in tx, the run's write; a duplicate id is
// core.ErrConflict, and the caller's error rolls the run's write back.
func (ins *approvalInsert) exec(ctx context.Context, tx *wtx) error {
	if ins == nil {
		return nil
	}
	if err := ins.Exec(ctx, sqlstore.Bind(dialect, sqlstore.FromSQL(tx))); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}
