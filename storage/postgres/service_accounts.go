package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const serviceAccountColumns = `id, name, principal, user_id, token_prefix, token_hash, scopes,
	created_at, expires_at, last_used_at, revoked_at, created_by`

const serviceAccountParams = 12 // the columns of serviceAccountColumns

// scanServiceAccount scans serviceAccountColumns, then extra.
func scanServiceAccount(sc scanner, extra ...any) (*auth.ServiceAccount, error) {
	var a auth.ServiceAccount
	dest := append([]any{&a.ID, &a.Name, &a.Principal, &a.UserID, &a.TokenPrefix, &a.TokenHash,
		&a.Scopes, &a.CreatedAt, &a.ExpiresAt, &a.LastUsedAt, &a.RevokedAt, &a.CreatedBy}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	if a.Scopes == nil {
		a.Scopes = []string{}
	}
	return &a, nil
}

// CreateServiceAccount inserts a, in one statement. A duplicate id or token
// hash is core.ErrConflict; an account without an id or a token hash is
// core.ErrInvalid. Scopes are a text[]: nil comes back as an empty
// (non-nil) slice.
func (st *Store) CreateServiceAccount(ctx context.Context, a *auth.ServiceAccount) error {
	if a == nil || a.ID == "" {
		return fmt.Errorf("postgres: create service account: id is required: %w", core.ErrInvalid)
	}
	if a.TokenHash == "" {
		return fmt.Errorf("postgres: create service account %q: token hash is required: %w", a.ID, core.ErrInvalid)
	}
	_, err := st.pool.Exec(ctx, `INSERT INTO service_accounts (`+serviceAccountColumns+`)
		VALUES (`+placeholders(1, serviceAccountParams)+`)`,
		txt(a.ID), txt(a.Name), txt(a.Principal), txt(a.UserID), txt(a.TokenPrefix), txt(a.TokenHash),
		txts(a.Scopes), a.CreatedAt, a.ExpiresAt, a.LastUsedAt, a.RevokedAt, txt(a.CreatedBy))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		if pe.ConstraintName == "service_accounts_token_hash_key" {
			return fmt.Errorf("service account %q: another account has the same token: %w", a.ID, core.ErrConflict)
		}
		return fmt.Errorf("service account %q already exists: %w", a.ID, core.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create service account %q: %w", a.ID, dbErr(ctx, err))
	}
	return nil
}

// GetServiceAccount returns the account with id, revoked or not, or
// core.ErrNotFound.
func (st *Store) GetServiceAccount(ctx context.Context, id string) (*auth.ServiceAccount, error) {
	a, err := scanServiceAccount(st.pool.QueryRow(ctx,
		`SELECT `+serviceAccountColumns+` FROM service_accounts WHERE id = $1`, txt(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("service account %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get service account %q: %w", id, dbErr(ctx, err))
	}
	return a, nil
}

// GetServiceAccountByTokenHash returns the account whose token hash is
// hash, revoked or expired ones included, or core.ErrNotFound.
func (st *Store) GetServiceAccountByTokenHash(ctx context.Context, hash string) (*auth.ServiceAccount, error) {
	a, err := scanServiceAccount(st.pool.QueryRow(ctx,
		`SELECT `+serviceAccountColumns+` FROM service_accounts WHERE token_hash = $1`, txt(hash)))
	if errors.Is(err, pgx.ErrNoRows) {
		// The hash is not named: errors end up in logs.
		return nil, fmt.Errorf("service account with that token: %w", core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get service account by token: %w", dbErr(ctx, err))
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
	// With a limit, the window count is the total, read in the same
	// statement (one snapshot) as the page.
	q := `SELECT ` + serviceAccountColumns
	if p.Limit > 0 {
		q += `, count(*) OVER ()`
	}
	q += ` FROM service_accounts` + where + ` ORDER BY created_at DESC, seq DESC`
	var args []any
	if p.Limit > 0 {
		page := max(p.Page, 1)
		args = append(args, p.Limit, (page-1)*p.Limit)
		q += ` LIMIT $1 OFFSET $2`
	}

	rows, err := st.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("postgres: list service accounts: %w", dbErr(ctx, err))
	}
	defer rows.Close()
	out := []*auth.ServiceAccount{}
	var total int64
	for rows.Next() {
		var extra []any
		if p.Limit > 0 {
			extra = []any{&total}
		}
		a, err := scanServiceAccount(rows, extra...)
		if err != nil {
			return nil, 0, fmt.Errorf("postgres: list service accounts: %w", dbErr(ctx, err))
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("postgres: list service accounts: %w", dbErr(ctx, err))
	}
	switch {
	case p.Limit <= 0:
		total = int64(len(out))
	case len(out) == 0:
		// A page past the end has no row to carry the count.
		if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM service_accounts`+where).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("postgres: count service accounts: %w", dbErr(ctx, err))
		}
	}
	return out, int(total), nil
}

// RevokeServiceAccount sets the account's revoked_at to at unless it is
// revoked already (the first revocation's time is kept), and returns the
// account as stored after that, in one statement. at must be positive (0
// means "not revoked"): otherwise core.ErrInvalid.
func (st *Store) RevokeServiceAccount(ctx context.Context, id string, at int64) (*auth.ServiceAccount, error) {
	if at <= 0 {
		return nil, fmt.Errorf("postgres: revoke service account %q: revocation time %d must be positive: %w", id, at, core.ErrInvalid)
	}
	a, err := scanServiceAccount(st.pool.QueryRow(ctx, `UPDATE service_accounts
		SET revoked_at = CASE WHEN revoked_at = 0 THEN $2::bigint ELSE revoked_at END
		WHERE id = $1 RETURNING `+serviceAccountColumns, txt(id), at))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("service account %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: revoke service account %q: %w", id, dbErr(ctx, err))
	}
	return a, nil
}

// TouchServiceAccount records that the account was used at at, in one
// statement. The time only moves forward: a touch older than the stored
// last_used_at (from a replica whose request started earlier) leaves it as
// it is. An unknown id is core.ErrNotFound.
func (st *Store) TouchServiceAccount(ctx context.Context, id string, at int64) error {
	tag, err := st.pool.Exec(ctx, `UPDATE service_accounts SET last_used_at = GREATEST(last_used_at, $2::bigint)
		WHERE id = $1`, txt(id), at)
	if err != nil {
		return fmt.Errorf("postgres: touch service account %q: %w", id, dbErr(ctx, err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("service account %q: %w", id, core.ErrNotFound)
	}
	return nil
}

var _ auth.ServiceAccountStore = (*Store)(nil)
