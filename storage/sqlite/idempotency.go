package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/agentgate/agentgate/core"
)

// upsertKeySQL stores a key unless an unexpired one holds its place: a row
// comes back when the key was stored (new, or replacing an expired one),
// none when it is taken.
const upsertKeySQL = `INSERT INTO idempotency_keys (scope, idem_key, fingerprint, run_id, created_at)
	VALUES (?, ?, ?, ?, ?)
	ON CONFLICT (scope, idem_key) DO UPDATE SET fingerprint = excluded.fingerprint,
		run_id = excluded.run_id, created_at = excluded.created_at
	WHERE idempotency_keys.created_at < ?
	RETURNING run_id`

// CreateRunWithKey stores p.Key, p.Session (unless it exists) and p.Run in
// one transaction, unless the key is taken: then it returns the stored key
// and creates nothing. The writer goroutine serialises every write, so two
// calls with one key never both find it free.
func (st *Store) CreateRunWithKey(ctx context.Context, p core.CreateRunWithKeyParams) (*core.IdempotencyKey, bool, error) {
	k := p.Key
	if p.Session == nil || p.Run == nil || p.Session.SessionID != p.Run.SessionID || k.RunID != p.Run.RunID {
		return nil, false, fmt.Errorf("sqlite: create run with key: the key must name the run, the run the session: %w", core.ErrInvalid)
	}
	if k.Key == "" {
		return nil, false, fmt.Errorf("sqlite: create run with key: the key is empty: %w", core.ErrInvalid)
	}
	sins, err := newSessionInsert(p.Session)
	if err != nil {
		return nil, false, err
	}
	ins, err := newRunInsert(p.Run)
	if err != nil {
		return nil, false, err
	}
	var (
		taken   *core.IdempotencyKey
		created bool
	)
	err = st.write(ctx, func(ctx context.Context, tx *wtx) error {
		taken, created = nil, false // a batch that failed runs this again alone
		var runID string
		err := tx.QueryRowContext(ctx, upsertKeySQL, k.Scope, k.Key, k.Fingerprint, k.RunID, k.CreatedAt,
			p.ExpiredBefore).Scan(&runID)
		if errors.Is(err, sql.ErrNoRows) {
			var sk core.IdempotencyKey
			if err := tx.QueryRowContext(ctx, `SELECT scope, idem_key, fingerprint, run_id, created_at
				FROM idempotency_keys WHERE scope = ? AND idem_key = ?`, k.Scope, k.Key).Scan(
				&sk.Scope, &sk.Key, &sk.Fingerprint, &sk.RunID, &sk.CreatedAt); err != nil {
				return fmt.Errorf("sqlite: read idempotency key: %w", err)
			}
			taken = &sk
			return nil
		}
		if err != nil {
			return fmt.Errorf("sqlite: store idempotency key: %w", err)
		}
		if created, err = sins.exec(ctx, tx); err != nil {
			return err
		}
		return ins.exec(ctx, tx)
	})
	if err != nil {
		return nil, false, err
	}
	return taken, created, nil
}

// DeleteExpiredKeys deletes up to limit keys created before before.
func (st *Store) DeleteExpiredKeys(ctx context.Context, before int64, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	var n int64
	err := st.write(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE rowid IN
			(SELECT rowid FROM idempotency_keys WHERE created_at < ? LIMIT ?)`, before, limit)
		if err != nil {
			return fmt.Errorf("sqlite: delete expired idempotency keys: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
