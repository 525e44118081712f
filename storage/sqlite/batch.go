package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"strings"
	"time"

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

// wtx is the batch transaction as the writes see it. The writer goroutine
// owns one pinned connection (file.wc) and runs its transactions with
// BEGIN IMMEDIATE / COMMIT on it; statements are prepared once on that
// connection (file.stmts) and reused by every later batch, so a write
// never pays for parsing its SQL again.
type wtx struct {
	s *file
}

// maxStmts bounds the statements the writer keeps prepared (queries with a
// variable number of placeholders are not worth keeping beyond that).
const maxStmts = 64

// stmt returns q prepared on the writer connection, and whether the caller
// must close it (it was not kept).
func (w *wtx) stmt(ctx context.Context, q string) (st *sql.Stmt, temporary bool, err error) {
	if st, ok := w.s.stmts[q]; ok {
		return st, false, nil
	}
	if st, err = w.s.wc.PrepareContext(ctx, q); err != nil {
		return nil, false, err
	}
	if len(w.s.stmts) >= maxStmts {
		return st, true, nil
	}
	w.s.stmts[q] = st
	return st, false, nil
}

// ExecContext executes q in the batch transaction.
func (w *wtx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, temporary, err := w.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	if temporary {
		defer st.Close()
	}
	return st.ExecContext(ctx, args...)
}

// QueryContext queries rows in the batch transaction.
func (w *wtx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, temporary, err := w.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	if temporary {
		// The rows outlive nothing but the statement: query on the
		// connection instead of closing a statement still in use.
		st.Close()
		return w.s.wc.QueryContext(ctx, q, args...)
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext queries one row in the batch transaction.
func (w *wtx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	st, temporary, err := w.stmt(ctx, q)
	if err != nil || temporary {
		if st != nil {
			st.Close()
		}
		return w.s.wc.QueryRowContext(ctx, q, args...) // reports a prepare error on Scan
	}
	return st.QueryRowContext(ctx, args...)
}

// begin, commit and rollback run the batch transaction's boundaries on the
// writer connection. BEGIN IMMEDIATE takes the write lock at once, so a
// transaction never fails half-way when another process holds it: it waits
// (busy_timeout) instead.
func (s *file) begin(ctx context.Context) error {
	w := &wtx{s: s}
	_, err := w.ExecContext(ctx, "BEGIN IMMEDIATE")
	if err != nil && strings.Contains(err.Error(), "within a transaction") {
		// An earlier transaction was left open (its COMMIT and ROLLBACK
		// both failed): end it rather than fail every later write.
		s.rollback(ctx)
		_, err = w.ExecContext(ctx, "BEGIN IMMEDIATE")
	}
	return err
}

func (s *file) commitTx(ctx context.Context) error {
	w := &wtx{s: s}
	if _, err := w.ExecContext(ctx, "COMMIT"); err != nil {
		// A failed COMMIT may leave the transaction open (SQLITE_BUSY);
		// end it so the next batch starts clean.
		_, _ = w.ExecContext(ctx, "ROLLBACK")
		return err
	}
	return nil
}

func (s *file) rollback(ctx context.Context) {
	// Fails harmlessly when SQLite already rolled back (an I/O error).
	_, _ = (&wtx{s: s}).ExecContext(ctx, "ROLLBACK")
}

type writeOp struct {
	ctx  context.Context
	fn   writeFn
	done chan error
}

// write runs fn in the next batch and returns its result once the batch
// has committed.
func (s *file) write(ctx context.Context, fn writeFn) error {
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
func (s *file) writer() {
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
		for i, n := 0, -1; i < 8 && len(s.ops) != n && len(s.ops) < maxBatch-1; i++ {
			n = len(s.ops)
			runtime.Gosched()
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
		start := time.Now()
		err := s.commit(batch)
		if f := s.onWrite.Load(); f != nil {
			(*f)(time.Since(start), len(batch), err)
		}
		// The array is reused: it must not keep the writes (and the values
		// they bind, a run's messages) alive until overwritten.
		clear(batch)
		s.committed()
		s.catchUpCheckpoint()
	}
}

// commit commits batch and returns the first write's error, if any.
func (s *file) commit(batch []*writeOp) (first error) {
	results := make([]error, len(batch))
	defer func() {
		for i, op := range batch {
			op.done <- results[i]
			if first == nil {
				first = results[i]
			}
		}
	}()
	if len(batch) > 1 && s.commitTogether(batch, results) {
		return nil
	}
	// Alone, or a write of the batch failed: each write in a transaction
	// of its own, so a failure takes nothing else with it.
	for i, op := range batch {
		results[i] = s.commitAlone(op)
	}
	return nil
}

// ObserveWrites has f called after each write transaction the writer
// commits (or fails): its duration, how many writes it grouped, and the
// first write's error (Prometheus metrics). Call it before serving.
// The trace database's writes are observed too.
func (s *Store) ObserveWrites(f func(d time.Duration, group int, err error)) {
	s.file.onWrite.Store(&f)
	s.tr.onWrite.Store(&f)
}

// commitTogether runs the whole batch in one transaction, without
// savepoints. It reports false, having rolled everything back, when a
// write failed (its partial effects must not commit); the caller then
// retries each write alone. Writes are deterministic, so a write that
// failed here fails again alone, and the others commit.
func (s *file) commitTogether(batch []*writeOp, results []error) bool {
	ctx := context.Background()
	if err := s.begin(ctx); err != nil {
		return false
	}
	w := &wtx{s: s}
	for i, op := range batch {
		if err := op.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if err := s.run(context.WithoutCancel(op.ctx), w, op.fn); err != nil {
			s.rollback(ctx)
			clear(results)
			return false
		}
	}
	if err := s.commitTx(ctx); err != nil {
		for i := range results {
			if results[i] == nil {
				results[i] = fmt.Errorf("sqlite: commit: %w", err)
			}
		}
	}
	return true
}

// commitAlone runs one write in its own transaction.
func (s *file) commitAlone(op *writeOp) error {
	if err := op.ctx.Err(); err != nil {
		return err
	}
	ctx := context.Background()
	if err := s.begin(ctx); err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	if err := s.run(context.WithoutCancel(op.ctx), &wtx{s: s}, op.fn); err != nil {
		s.rollback(ctx)
		return err
	}
	if err := s.commitTx(ctx); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// run calls fn, turning a panic into an error so the writer survives.
func (s *file) run(ctx context.Context, tx *wtx, fn writeFn) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sqlite: write panicked: %v", r)
		}
	}()
	return fn(ctx, tx)
}
