package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/agentgate/agentgate/core"
)

// Group commit. Every write goes through one goroutine that gathers the
// writes waiting at that moment (up to maxBatch) into one transaction.
// Under concurrency this turns N commits (each writing its WAL frames)
// into one; alone, a write is a transaction of its own. When a write of a
// batch fails, the batch is rolled back and each write is retried in a
// transaction of its own, so a failure never takes the others with it
// (and the common case pays for no savepoints).

// maxBatch bounds the writes committed together.
const maxBatch = 128

// errClosed is returned for writes after Close.
var errClosed = fmt.Errorf("sqlite: store is closed: %w", core.ErrUnavailable)

// writeFn performs one write inside the batch transaction. Its error is the
// caller's result; it must not commit or roll back tx.
type writeFn func(ctx context.Context, tx *wtx) error

// wtx is the batch transaction as the writes see it: statements are
// prepared once per batch and reused by every write of the batch.
type wtx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

// maxStmts bounds the statements a batch keeps prepared (queries with a
// variable number of placeholders are not worth keeping beyond that).
const maxStmts = 64

func (w *wtx) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := w.stmts[q]; ok {
		return st, nil
	}
	st, err := w.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if len(w.stmts) < maxStmts {
		w.stmts[q] = st
	}
	return st, nil
}

// ExecContext executes q with a statement prepared for the batch.
func (w *wtx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := w.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// QueryRowContext queries one row with a statement prepared for the batch.
func (w *wtx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := w.stmt(ctx, q)
	if err != nil {
		return w.tx.QueryRowContext(ctx, q, args...) // reports the same error on Scan
	}
	return st.QueryRowContext(ctx, args...)
}

type writeOp struct {
	ctx  context.Context
	fn   writeFn
	done chan error
}

// write runs fn in the next batch and returns its result once the batch
// has committed.
func (s *Store) write(ctx context.Context, fn writeFn) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	op := &writeOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.ops <- op:
	case <-s.stop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued the write will be decided; wait for it even if ctx ends,
	// so a caller never reports a failure for a write that committed.
	return <-op.done
}

// writer is the one goroutine that writes.
func (s *Store) writer() {
	defer close(s.writerDone)
	batch := make([]*writeOp, 0, maxBatch)
	for {
		select {
		case op := <-s.ops:
			batch = append(batch[:0], op)
		case <-s.stop:
			// Fail whatever is still queued.
			for {
				select {
				case op := <-s.ops:
					op.done <- errClosed
				default:
					return
				}
			}
		}
	gather:
		for len(batch) < maxBatch {
			select {
			case op := <-s.ops:
				batch = append(batch, op)
			default:
				break gather
			}
		}
		s.commit(batch)
	}
}

func (s *Store) commit(batch []*writeOp) {
	results := make([]error, len(batch))
	defer func() {
		for i, op := range batch {
			op.done <- results[i]
		}
	}()
	if len(batch) > 1 && s.commitTogether(batch, results) {
		return
	}
	// Alone, or a write of the batch failed: each write in a transaction
	// of its own, so a failure takes nothing else with it.
	for i, op := range batch {
		results[i] = s.commitAlone(op)
	}
}

// commitTogether runs the whole batch in one transaction, without
// savepoints. It reports false, having rolled everything back, when a
// write failed (its partial effects must not commit); the caller then
// retries each write alone. Writes are deterministic, so a write that
// failed here fails again alone, and the others commit.
func (s *Store) commitTogether(batch []*writeOp, results []error) bool {
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false
	}
	w := &wtx{tx: tx, stmts: make(map[string]*sql.Stmt, 8)}
	for i, op := range batch {
		if err := op.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if err := s.run(context.WithoutCancel(op.ctx), w, op.fn); err != nil {
			_ = tx.Rollback()
			clear(results)
			return false
		}
	}
	if err := tx.Commit(); err != nil {
		for i := range results {
			if results[i] == nil {
				results[i] = fmt.Errorf("sqlite: commit: %w", err)
			}
		}
	}
	return true
}

// commitAlone runs one write in its own transaction.
func (s *Store) commitAlone(op *writeOp) error {
	if err := op.ctx.Err(); err != nil {
		return err
	}
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	w := &wtx{tx: tx, stmts: make(map[string]*sql.Stmt, 4)}
	if err := s.run(context.WithoutCancel(op.ctx), w, op.fn); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// run calls fn, turning a panic into an error so the writer survives.
func (s *Store) run(ctx context.Context, tx *wtx, fn writeFn) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sqlite: write panicked: %v", r)
		}
	}()
	return fn(ctx, tx)
}
