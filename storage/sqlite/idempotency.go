package sqlite

import (
	"context"
	"fmt"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/storage/sqlstore"
)

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
	aps, err := newApprovalInsert(p.Run)
	if err != nil {
		return nil, false, err
	}
	var (
		taken   *core.IdempotencyKey
		created bool
	)
	err = st.write(ctx, func(ctx context.Context, tx *wtx) error {
		taken, created = nil, false // a batch that failed runs this again alone
		var err error
		if taken, err = sqlstore.ClaimKey(ctx, sqlstore.Bind(dialect, sqlstore.FromSQL(tx)), k, p.ExpiredBefore); err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
		if taken != nil {
			return nil
		}
		if created, err = sins.exec(ctx, tx); err != nil {
			return err
		}
		if err := ins.exec(ctx, tx); err != nil {
			return err
		}
		return aps.exec(ctx, tx)
	})
	if err != nil {
		return nil, false, err
	}
	return taken, created, nil
}
