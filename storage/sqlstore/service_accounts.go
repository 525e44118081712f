package sqlstore

import (
	"context"
	"fmt"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
)

// serviceAccountColumns are the service_accounts columns, in scan order.
var serviceAccountColumns = Columns{"id", "name", "principal", "user_id", "token_prefix", "token_hash",
	"scopes", "created_at", "expires_at", "last_used_at", "revoked_at", "created_by"}

// ServiceAccounts implements auth.ServiceAccountStore on a backend's
// service_accounts table. A backend embeds it in its store.
type ServiceAccounts struct{ db *DB }

// NewServiceAccounts returns the service-account store of db.
func NewServiceAccounts(db *DB) *ServiceAccounts { return &ServiceAccounts{db: db} }

func (s *ServiceAccounts) scan(row Row, extra ...any) (*auth.ServiceAccount, error) {
	d := s.db.d
	var (
		a auth.ServiceAccount
		f Fields
	)
	f.Add(&a.ID, &a.Name, &a.Principal, &a.UserID, &a.TokenPrefix, &a.TokenHash)
	f.Strings(d, "scopes", &a.Scopes)
	f.Add(&a.CreatedAt, &a.ExpiresAt, &a.LastUsedAt, &a.RevokedAt, &a.CreatedBy)
	if err := f.Scan(row, extra...); err != nil {
		return nil, err
	}
	return &a, nil
}

// CreateServiceAccount inserts a. A duplicate id or token hash is
// core.ErrConflict; an account without an id or a token hash is
// core.ErrInvalid. Scopes nil comes back as an empty (non-nil) slice.
func (s *ServiceAccounts) CreateServiceAccount(ctx context.Context, a *auth.ServiceAccount) error {
	name := s.db.d.Name
	if a == nil || a.ID == "" {
		return fmt.Errorf("%s: create service account: id is required: %w", name, core.ErrInvalid)
	}
	if a.TokenHash == "" {
		return fmt.Errorf("%s: create service account %q: token hash is required: %w", name, a.ID, core.ErrInvalid)
	}
	scopes, err := EncodeStrings(s.db.d, "scopes", a.Scopes)
	if err != nil {
		return err
	}
	// ON CONFLICT without a target covers both unique columns (and waits
	// for a concurrent insert of either to decide).
	var n int64
	err = s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `INSERT INTO service_accounts (`+serviceAccountColumns.String()+`)
			VALUES (`+serviceAccountColumns.Placeholders()+`) ON CONFLICT DO NOTHING`,
			a.ID, a.Name, a.Principal, a.UserID, a.TokenPrefix, a.TokenHash, scopes,
			a.CreatedAt, a.ExpiresAt, a.LastUsedAt, a.RevokedAt, a.CreatedBy)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: create service account %q: %w", name, a.ID, s.db.Err(ctx, err))
	}
	if n == 1 {
		return nil
	}
	// Tell which of the two it was. Accounts are never deleted, so the
	// one holding the id or the token is still there.
	var idTaken bool
	err = s.db.ReadStmt(ctx, func(ctx context.Context, q Querier) error {
		return q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM service_accounts WHERE id = ?)`, a.ID).Scan(&idTaken)
	})
	if err != nil {
		return fmt.Errorf("%s: create service account %q: %w", name, a.ID, s.db.Err(ctx, err))
	}
	if idTaken {
		return fmt.Errorf("service account %q already exists: %w", a.ID, core.ErrConflict)
	}
	return fmt.Errorf("service account %q: another account has the same token: %w", a.ID, core.ErrConflict)
}

// get returns the account whose col is v.
func (s *ServiceAccounts) get(ctx context.Context, col, v string) (*auth.ServiceAccount, error) {
	var a *auth.ServiceAccount
	err := s.db.ReadStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		a, err = s.scan(q.QueryRow(ctx, `SELECT `+serviceAccountColumns.String()+` FROM service_accounts WHERE `+col+` = ?`, v))
		return err
	})
	return a, err
}

// GetServiceAccount returns the account with id, revoked or not, or
// core.ErrNotFound.
func (s *ServiceAccounts) GetServiceAccount(ctx context.Context, id string) (*auth.ServiceAccount, error) {
	a, err := s.get(ctx, "id", id)
	if isNoRows(err) {
		return nil, fmt.Errorf("service account %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: get service account %q: %w", s.db.d.Name, id, s.db.Err(ctx, err))
	}
	return a, nil
}

// GetServiceAccountByTokenHash returns the account whose token hash is
// hash, revoked or expired ones included, or core.ErrNotFound.
func (s *ServiceAccounts) GetServiceAccountByTokenHash(ctx context.Context, hash string) (*auth.ServiceAccount, error) {
	a, err := s.get(ctx, "token_hash", hash)
	if isNoRows(err) {
		// The hash is not named: errors end up in logs.
		return nil, fmt.Errorf("service account with that token: %w", core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: get service account by token: %w", s.db.d.Name, s.db.Err(ctx, err))
	}
	return a, nil
}

// ListServiceAccounts returns one page of the accounts, newest first
// (created_at, then insertion order), and how many there are in all;
// revoked ones only with p.IncludeRevoked. Limit <= 0 returns every account
// (Page is then ignored); Page < 1 is page 1.
func (s *ServiceAccounts) ListServiceAccounts(ctx context.Context, p auth.ListServiceAccountsParams) ([]*auth.ServiceAccount, int, error) {
	l := List{Columns: serviceAccountColumns.String(), From: "service_accounts",
		OrderBy: " ORDER BY created_at DESC, seq DESC", Page: Page{Limit: p.Limit, Page: p.Page}}
	if !p.IncludeRevoked {
		l.Where = Where([]string{"revoked_at = 0"})
	}
	return collect(ctx, s.db, l, "list service accounts", s.scan)
}

// RevokeServiceAccount sets the account's revoked_at to at unless it is
// revoked already (the first revocation's time is kept), and returns the
// account as stored after that, in one statement. at must be positive (0
// means "not revoked"): otherwise core.ErrInvalid.
func (s *ServiceAccounts) RevokeServiceAccount(ctx context.Context, id string, at int64) (*auth.ServiceAccount, error) {
	name := s.db.d.Name
	if at <= 0 {
		return nil, fmt.Errorf("%s: revoke service account %q: revocation time %d must be positive: %w", name, id, at, core.ErrInvalid)
	}
	var a *auth.ServiceAccount
	err := s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		a, err = s.scan(q.QueryRow(ctx, `UPDATE service_accounts
			SET revoked_at = CASE WHEN revoked_at = 0 THEN CAST(? AS BIGINT) ELSE revoked_at END
			WHERE id = ? RETURNING `+serviceAccountColumns.String(), at, id))
		return err
	})
	if isNoRows(err) {
		return nil, fmt.Errorf("service account %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: revoke service account %q: %w", name, id, s.db.Err(ctx, err))
	}
	return a, nil
}

// TouchServiceAccount records that the account was used at at, in one
// statement. The time only moves forward: a touch older than the stored
// last_used_at (from a replica whose request started earlier) leaves it as
// it is. An unknown id is core.ErrNotFound.
func (s *ServiceAccounts) TouchServiceAccount(ctx context.Context, id string, at int64) error {
	var n int64
	err := s.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `UPDATE service_accounts SET last_used_at = `+
			s.db.d.Greatest("last_used_at", "CAST(? AS BIGINT)")+` WHERE id = ?`, at, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: touch service account %q: %w", s.db.d.Name, id, s.db.Err(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("service account %q: %w", id, core.ErrNotFound)
	}
	return nil
}

var _ auth.ServiceAccountStore = (*ServiceAccounts)(nil)
