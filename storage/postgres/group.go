package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agentgate/agentgate/core"
)

// Group commit of the hot writes (a run's creation and its updates).
// Every commit waits for the server's WAL flush (an fdatasync: about 3 ms
// on the development machine), so one statement per transaction caps a
// pool's writes at pool size / flush time. Instead, the writes waiting at
// a moment are gathered (up to maxGroup) by a few writer goroutines and
// sent as one pipelined batch in one transaction: one round trip and one
// flush for all of them.
//
// Each write is one statement returning one row. When a statement of a
// group fails (an error from the server: a duplicate key, a deadlock with
// another replica's group, ...) the group's transaction is gone with every
// write in it, so each write is sent again alone and the failure stays its
// own. A failure of the connection is the whole group's, as it would be
// each write's alone. A write is never cut short by its caller's context
// once sent; a group is bounded by groupTimeout.

const (
	// maxGroup bounds the writes committed together.
	maxGroup = 64
	// groupWriters is how many groups may be in flight at once.
	groupWriters = 2
	// groupTimeout bounds one group's transaction.
	groupTimeout = 30 * time.Second
)

// errStoreClosed is returned for writes after Close.
var errStoreClosed = fmt.Errorf("postgres: store is closed: %w", core.ErrUnavailable)

// rowWrite is one single-row statement; scan reads its row.
type rowWrite struct {
	ctx  context.Context
	sql  string
	args []any
	scan func(pgx.Row) error
	done chan error
}

// grouper runs the writer goroutines.
type grouper struct {
	ops  chan *rowWrite
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

func (st *Store) startGrouper() {
	g := &grouper{ops: make(chan *rowWrite), stop: make(chan struct{})}
	st.group = g
	for range groupWriters {
		g.wg.Add(1)
		go st.groupWriter()
	}
}

func (st *Store) stopGrouper() {
	if g := st.group; g != nil {
		g.once.Do(func() { close(g.stop) })
		g.wg.Wait()
	}
}

// writeRow executes sql with args and scans its one row with scan, in the
// next group. Its error is the statement's (the caller interprets it).
func (st *Store) writeRow(ctx context.Context, sql string, args []any, scan func(pgx.Row) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	op := &rowWrite{ctx: ctx, sql: sql, args: args, scan: scan, done: make(chan error, 1)}
	select {
	case st.group.ops <- op:
	case <-st.group.stop:
		return errStoreClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once taken, the write is decided: wait for it even if ctx ends, so a
	// caller never reports a failure for a write that committed.
	return <-op.done
}

func (st *Store) groupWriter() {
	g := st.group
	defer g.wg.Done()
	batch := make([]*rowWrite, 0, maxGroup)
	for {
		select {
		case op := <-g.ops:
			batch = append(batch[:0], op)
		case <-g.stop:
			return
		}
	gather:
		for len(batch) < maxGroup {
			select {
			case op := <-g.ops:
				batch = append(batch, op)
			default:
				break gather
			}
		}
		start := time.Now()
		st.commitGroup(batch)
		if f := st.onWrite.Load(); f != nil {
			(*f)(time.Since(start), len(batch), nil)
		}
	}
}

// ObserveWrites has f called after each write transaction: a group
// commit of run writes (how many it grouped) and each transaction of the
// other groups (1), with its duration and error (Prometheus metrics).
// Call it before serving.
func (st *Store) ObserveWrites(f func(d time.Duration, group int, err error)) { st.onWrite.Store(&f) }

func (st *Store) commitGroup(batch []*rowWrite) {
	live := make([]*rowWrite, 0, len(batch))
	for _, op := range batch {
		if err := op.ctx.Err(); err != nil {
			op.done <- err
			continue
		}
		live = append(live, op)
	}
	switch len(live) {
	case 0:
		return
	case 1:
		live[0].done <- st.writeAlone(live[0])
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	err := pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, op := range live {
			b.Queue(op.sql, op.args...)
		}
		br := tx.SendBatch(ctx, b)
		for _, op := range live {
			if err := op.scan(br.QueryRow()); err != nil {
				_ = br.Close()
				return err
			}
		}
		return br.Close()
	})
	var pe *pgconn.PgError
	switch {
	case err == nil:
		for _, op := range live {
			op.done <- nil
		}
	case errors.As(err, &pe):
		for _, op := range live {
			op.done <- st.writeAlone(op)
		}
	default:
		for _, op := range live {
			op.done <- err
		}
	}
}

// writeAlone is one write as its own statement (and transaction).
func (st *Store) writeAlone(op *rowWrite) error {
	return op.scan(st.pool.QueryRow(context.WithoutCancel(op.ctx), op.sql, op.args...))
}
