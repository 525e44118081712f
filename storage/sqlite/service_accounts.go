package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
)

const serviceAccountColumns = `id, name, principal, user_id, token_prefix, token_hash, scopes,
	created_at, expires_at, last_used_at, revoked_at, created_by`

func scanServiceAccount(sc scanner) (*auth.ServiceAccount, error) {
	var (
		a      auth.ServiceAccount
		scopes string
	)
	if err := sc.Scan(&a.ID, &a.Name, &a.Principal, &a.UserID, &a.TokenPrefix, &a.TokenHash,
		&scopes, &a.CreatedAt, &a.ExpiresAt, &a.LastUsedAt, &a.RevokedAt, &a.CreatedBy); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		return nil, fmt.Errorf("sqlite: scan service account: %w", err)
	}
	a.Scopes = []string{}
	if err := json.Unmarshal([]byte(scopes), &a.Scopes); err != nil {
		return nil, fmt.Errorf("sqlite: service account %q: decode scopes: %w", a.ID, err)
	}
	if a.Scopes == nil { // a stored "null"
		a.Scopes = []string{}
	}
	return &a, nil
}

// CreateServiceAccount inserts a. A duplicate id or token hash is
// core.ErrConflict; an account without an id or a token hash is
// core.ErrInvalid. Scopes are stored as a JSON array: nil comes back as
// an empty (non-nil) slice.
func (st *Store) CreateServiceAccount(ctx context.Context, a *auth.ServiceAccount) error {
	if a == nil || a.ID == "" {
		return fmt.Errorf("sqlite: create service account: id is required: %w", core.ErrInvalid)
	}
	if a.TokenHash == "" {
		return fmt.Errorf("sqlite: create service account %q: token hash is required: %w", a.ID, core.ErrInvalid)
	}
	scopes := "[]"
	if len(a.Scopes) > 0 {
		b, err := json.Marshal(a.Scopes)
		if err != nil {
			return fmt.Errorf("sqlite: encode scopes: %w", err)
		}
		scopes = string(b)
	}
	return st.write(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO service_accounts (`+serviceAccountColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`,
			a.ID, a.Name, a.Principal, a.UserID, a.TokenPrefix, a.TokenHash, scopes,
			a.CreatedAt, a.ExpiresAt, a.LastUsedAt, a.RevokedAt, a.CreatedBy)
		if err != nil {
			return fmt.Errorf("sqlite: create service account %q: %w", a.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: create service account %q: %w", a.ID, err)
		} else if n == 1 {
			return nil
		}
		// ON CONFLICT without a target covers both unique columns; tell
		// which one it was.
		var idTaken bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM service_accounts WHERE id = ?)`,
			a.ID).Scan(&idTaken); err != nil {
			return fmt.Errorf("sqlite: create service account %q: %w", a.ID, err)
		}
		if idTaken {
			return fmt.Errorf("service account %q already exists: %w", a.ID, core.ErrConflict)
		}
		return fmt.Errorf("service account %q: another account has the same token: %w", a.ID, core.ErrConflict)
	})
}

// GetServiceAccount returns the account with id, revoked or not, or
// core.ErrNotFound.
func (st *Store) GetServiceAccount(ctx context.Context, id string) (*auth.ServiceAccount, error) {
	a, err := scanServiceAccount(st.r.QueryRowContext(ctx,
		`SELECT `+serviceAccountColumns+` FROM service_accounts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("service account %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get service account %q: %w", id, err)
	}
	return a, nil
}

// GetServiceAccountByTokenHash returns the account whose token hash is
// hash, revoked or expired ones included, or core.ErrNotFound.
func (st *Store) GetServiceAccountByTokenHash(ctx context.Context, hash string) (*auth.ServiceAccount, error) {
	a, err := scanServiceAccount(st.r.QueryRowContext(ctx,
		`SELECT `+serviceAccountColumns+` FROM service_accounts WHERE token_hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		// The hash is not named: errors end up in logs.
		return nil, fmt.Errorf("service account with that token: %w", core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get service account by token: %w", err)
	}
	return a, nil
}

// ListServiceAccounts returns one page of the accounts, newest first
// (created_at, then insertion order), and how many there are in all;
// revoked ones only with p.IncludeRevoked. Limit <= 0 returns every account
// (Page is then ignored); Page < 1 is page 1.
func (st *Store) ListServiceAccounts(ctx context.Context, p auth.ListServiceAccountsParams) ([]*auth.ServiceAccount, int, error) {
	where := ""
	if !p.IncludeRevoked {
		where = ` WHERE revoked_at = 0`
	}
	q := `SELECT ` + serviceAccountColumns + ` FROM service_accounts` + where +
		` ORDER BY created_at DESC, seq DESC`
	var args []any
	if p.Limit > 0 {
		page := max(p.Page, 1)
		q += ` LIMIT ? OFFSET ?`
		args = append(args, p.Limit, (page-1)*p.Limit)
	}

	// One read transaction: the page and the count see the same snapshot.
	tx, err := st.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: list service accounts: %w", err)
	}
	defer tx.Rollback()

	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: list service accounts: %w", err)
	}
	out := []*auth.ServiceAccount{}
	for rows.Next() {
		a, err := scanServiceAccount(rows)
		if err != nil {
			rows.Close()
			return nil, 0, err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, 0, fmt.Errorf("sqlite: list service accounts: %w", err)
	}
	rows.Close()

	total := len(out)
	if p.Limit > 0 {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM service_accounts`+where).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("sqlite: count service accounts: %w", err)
		}
	}
	return out, total, nil
}

// RevokeServiceAccount sets the account's revoked_at to at unless it is
// revoked already (the first revocation's time is kept), and returns the
// account as stored after that. at must be positive (0 means "not
// revoked"): otherwise core.ErrInvalid.
func (st *Store) RevokeServiceAccount(ctx context.Context, id string, at int64) (*auth.ServiceAccount, error) {
	if at <= 0 {
		return nil, fmt.Errorf("sqlite: revoke service account %q: revocation time %d must be positive: %w", id, at, core.ErrInvalid)
	}
	var a *auth.ServiceAccount
	err := st.write(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		a, err = scanServiceAccount(tx.QueryRowContext(ctx, `UPDATE service_accounts
			SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END
			WHERE id = ? RETURNING `+serviceAccountColumns, at, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("service account %q: %w", id, core.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: revoke service account %q: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// TouchServiceAccount records that the account was used at at. The time
// only moves forward: a touch older than the stored last_used_at (from a
// replica whose request started earlier) leaves it as it is. An unknown id
// is core.ErrNotFound.
func (st *Store) TouchServiceAccount(ctx context.Context, id string, at int64) error {
	return st.write(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE service_accounts SET last_used_at = max(last_used_at, ?)
			WHERE id = ?`, at, id)
		if err != nil {
			return fmt.Errorf("sqlite: touch service account %q: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: touch service account %q: %w", id, err)
		} else if n == 0 {
			return fmt.Errorf("service account %q: %w", id, core.ErrNotFound)
		}
		return nil
	})
}

var _ auth.ServiceAccountStore = (*Store)(nil)
