package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agentgate/agentgate/core"
)

// upsertKeySQL stores a key unless an unexpired one holds its place: a row
// comes back when the key was stored (new, or replacing an expired one),
// none when it is taken. A concurrent transaction inserting the same key
// makes it wait for that one's outcome (the unique index), so of two
// requests with one key, on any replica, one stores it and the other finds
// it taken.
const upsertKeySQL = `INSERT INTO idempotency_keys AS k (scope, idem_key, fingerprint, run_id, created_at)
	VALUES ($1, $2, $3, $4, $5)
	ON CONFLICT (scope, idem_key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,
		run_id = EXCLUDED.run_id, created_at = EXCLUDED.created_at
	WHERE k.created_at < $6
	RETURNING run_id`

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
	svals, err := sessionValues(p.Session)
	if err != nil {
		return nil, false, err
	}
	rvals, err := runValues(p.Run)
	if err != nil {
		return nil, false, err
	}
	var (
		taken   *core.IdempotencyKey
		created int64
	)
	err = pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
		var runID string
		err := tx.QueryRow(ctx, upsertKeySQL, txt(k.Scope), txt(k.Key), txt(k.Fingerprint), txt(k.RunID),
			k.CreatedAt, p.ExpiredBefore).Scan(&runID)
		if errors.Is(err, pgx.ErrNoRows) {
			// A statement of its own: its snapshot sees the key that the
			// upsert waited for.
			var sk core.IdempotencyKey
			taken = &sk
			return tx.QueryRow(ctx, `SELECT scope, idem_key, fingerprint, run_id, created_at
				FROM idempotency_keys WHERE scope = $1 AND idem_key = $2`, txt(k.Scope), txt(k.Key)).Scan(
				&sk.Scope, &sk.Key, &sk.Fingerprint, &sk.RunID, &sk.CreatedAt)
		}
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, createRunInSessionSQL, append(rvals, svals...)...).Scan(&created)
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

// DeleteExpiredKeys deletes up to limit keys created before before.
func (st *Store) DeleteExpiredKeys(ctx context.Context, before int64, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	tag, err := st.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE (scope, idem_key) IN
		(SELECT scope, idem_key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired idempotency keys: %w", dbErr(ctx, err))
	}
	return int(tag.RowsAffected()), nil
}
