package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/storage/sqlstore"
)

// CreateRunWithKey stores p.Key, p.Session (unless it exists) and p.Run in
// one transaction, unless the key is taken: then it returns the stored key
// and creates nothing. It does not go through the group commit: a keyed
// start is rare, and its two statements depend on each other.
func (st *Store) CreateRunWithKey(ctx context.Context, p core.CreateRunWithKeyParams) (*core.IdempotencyKey, bool, error) {
	k := p.Key
	if p.Session == nil || p.Run == nil || p.Session.SessionID != p.Run.SessionID || k.RunID != p.Run.RunID {
		return nil, false, fmt.Errorf("postgres: create run with key: the key must name the run, the run the session: %w", core.ErrInvalid)
	}
	if k.Key == "" || p.Run.RunID == "" {
		return nil, false, fmt.Errorf("postgres: create run with key: the key and the run id are required: %w", core.ErrInvalid)
	}
	args, err := runValues(p.Run, sessionParams)
	if err != nil {
		return nil, false, err
	}
	if args, err = appendSessionValues(args, p.Session); err != nil {
		return nil, false, err
	}
	aps, err := newApprovalInsert(p.Run) // nil without approvals
	if err != nil {
		return nil, false, err
	}
	var (
		taken   *core.IdempotencyKey
		created int64
	)
	err = pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
		var err error
		if taken, err = sqlstore.ClaimKey(ctx, sqlstore.Bind(dialect, querier{tx}), k, p.ExpiredBefore); err != nil || taken != nil {
			return err
		}
		if err := tx.QueryRow(ctx, createRunInSessionSQL, args...).Scan(&created); err != nil {
			return err
		}
		return insertApprovals(ctx, tx, aps)
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation: runs.run_id
		return nil, false, fmt.Errorf("run %q already exists: %w", p.Run.RunID, core.ErrConflict)
	}
	if err != nil {
		return nil, false, fmt.Errorf("postgres: create run %q with key: %w", p.Run.RunID, dbErr(ctx, err))
	}
	return taken, created == 1, nil
}
