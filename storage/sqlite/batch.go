package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/agentgate/agentgate/core"
)

// Group commit. Every write goes through one goroutine that gathers the
// writes waiting at that moment (up to maxBatch) into one transaction, each
// inside its own savepoint: a write that fails is rolled back alone, and
// the others commit together. Under concurrency this turns N commits (each
// writing its WAL frames) into one; alone, a write is a transaction of its
// own as before.

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
	finish := func() {
		for i, op := range batch {
			op.done <- results[i]
		}
	}
	defer finish()
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		for i := range results {
			results[i] = fmt.Errorf("sqlite: begin: %w", err)
		}
		return
	}
	w := &wtx{tx: tx, stmts: make(map[string]*sql.Stmt, 8)}
	savepoints := len(batch) > 1
	ok := 0
	for i, op := range batch {
		if err := op.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		opCtx := context.WithoutCancel(op.ctx)
		if savepoints {
			if _, err := w.ExecContext(ctx, "SAVEPOINT w"); err != nil {
				results[i] = fmt.Errorf("sqlite: savepoint: %w", err)
				continue
			}
		}
		results[i] = s.run(opCtx, w, op.fn)
		if savepoints {
			if results[i] != nil {
				if _, err := w.ExecContext(ctx, "ROLLBACK TO w"); err != nil {
					abort(tx, results, fmt.Errorf("sqlite: rollback to savepoint: %w", err))
					return
				}
			}
			if _, err := w.ExecContext(ctx, "RELEASE w"); err != nil {
				abort(tx, results, fmt.Errorf("sqlite: release savepoint: %w", err))
				return
			}
		}
		if results[i] == nil {
			ok++
		}
	}
	if ok == 0 {
		_ = tx.Rollback()
		return
	}
	if err := tx.Commit(); err != nil {
		for i := range results {
			if results[i] == nil {
				results[i] = fmt.Errorf("sqlite: commit: %w", err)
			}
		}
	}
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

// abort rolls the whole batch back and fails every write that had succeeded.
func abort(tx *sql.Tx, results []error, err error) {
	_ = tx.Rollback()
	for i := range results {
		if results[i] == nil || errors.Is(results[i], core.ErrConflict) || errors.Is(results[i], core.ErrNotFound) {
			results[i] = err
		}
	}
}
