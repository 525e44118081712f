package sqlstore

import (
	"context"
	"fmt"

	"github.com/agentgate/agentgate/core"
)

// claimKeySQL stores a key unless an unexpired one holds its place: a row
// comes back when the key was stored (new, or replacing an expired one),
// none when it is taken. On PostgreSQL a concurrent transaction inserting
// the same key makes it wait for that one's outcome (the unique index); on
// SQLite the writer serialises every write: either way, of two requests
// with one key one stores it and the other finds it taken.
var claimKeySQL = Upsert{
	Table:     "idempotency_keys",
	Columns:   Columns{"scope", "idem_key", "fingerprint", "run_id", "created_at"},
	Key:       []string{"scope", "idem_key"},
	Update:    []string{"fingerprint", "run_id", "created_at"},
	Where:     "idempotency_keys.created_at < ?",
	Returning: "run_id",
}.SQL()

// ClaimKey stores k on q unless a key created at or after expiredBefore
// holds its place, and returns that key then (nil when k was stored). q is
// the transaction that creates k's run (a backend's own, through Bind), so
// the key and the run commit together.
func ClaimKey(ctx context.Context, q Querier, k core.IdempotencyKey, expiredBefore int64) (*core.IdempotencyKey, error) {
	var runID string
	err := q.QueryRow(ctx, claimKeySQL, k.Scope, k.Key, k.Fingerprint, k.RunID, k.CreatedAt, expiredBefore).Scan(&runID)
	if err == nil {
		return nil, nil
	}
	if !isNoRows(err) {
		return nil, fmt.Errorf("store idempotency key: %w", err)
	}
	// A statement of its own: on PostgreSQL its snapshot sees the key that
	// the upsert waited for.
	var sk core.IdempotencyKey
	if err := q.QueryRow(ctx, `SELECT scope, idem_key, fingerprint, run_id, created_at
		FROM idempotency_keys WHERE scope = ? AND idem_key = ?`, k.Scope, k.Key).Scan(
		&sk.Scope, &sk.Key, &sk.Fingerprint, &sk.RunID, &sk.CreatedAt); err != nil {
		return nil, fmt.Errorf("read idempotency key: %w", err)
	}
	return &sk, nil
}

// IdempotencyKeys is the plain part of the idempotency keys: their
// expiry. (Storing one is ClaimKey, inside the backend's run creation.) A
// backend embeds it in its store.
type IdempotencyKeys struct{ db *DB }

// NewIdempotencyKeys returns the key store of db.
func NewIdempotencyKeys(db *DB) *IdempotencyKeys { return &IdempotencyKeys{db: db} }

// DeleteExpiredKeys deletes up to limit (<= 0: 1000) keys created before
// before, and returns how many it deleted.
func (ks *IdempotencyKeys) DeleteExpiredKeys(ctx context.Context, before int64, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	var n int64
	err := ks.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `DELETE FROM idempotency_keys WHERE (scope, idem_key) IN
			(SELECT scope, idem_key FROM idempotency_keys WHERE created_at < ? LIMIT ?)`, before, limit)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%s: delete expired idempotency keys: %w", ks.db.d.Name, ks.db.Err(ctx, err))
	}
	return int(n), nil
}
