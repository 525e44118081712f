package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

// file is one SQLite database as a Store uses it: a writer pool whose
// writing connection is owned by one goroutine (group commit, batch.go),
// a reader pool, and the WAL's background checkpointer (checkpoint.go).
// A Store has two: the state database and the traces' one.
type file struct {
	// w is the writer pool: two connections, one pinned by the writer
	// goroutine (wc), through which every write of the file goes, and one
	// for the background checkpoints (checkpoint.go), Ping and DB.
	w    *sql.DB
	wc   *sql.Conn
	r    *sql.DB   // reader pool: query_only connections
	keep *sql.Conn // in-memory only: pins the database while the store is open

	// stmts are the writer connection's prepared statements by SQL text;
	// only the writer goroutine uses them (close closes them after it).
	stmts      map[string]*sql.Stmt
	ops        chan *writeOp // writes waiting for the writer goroutine
	stop       chan struct{} // closed by close
	writerDone chan struct{} // closed when the writer goroutine returns
	started    bool          // the writer and checkpointer goroutines run

	// WAL checkpoints (checkpoint.go): dirty tells the checkpointer that
	// the writer committed; catchUp asks the writer to finish a checkpoint
	// the checkpointer could not complete.
	dirty   chan struct{}
	catchUp atomic.Bool
	commits atomic.Uint64 // batches committed
	// onWrite, when set, observes each committed batch (ObserveWrites).
	onWrite          atomic.Pointer[func(d time.Duration, group int, err error)]
	checkpointerDone chan struct{}
}

// openFile opens t's database, has migrate bring its schema up to date on
// the writer pool, and starts its writer and checkpointer.
func openFile(ctx context.Context, t target, migrate func(ctx context.Context, w *sql.DB) error) (*file, error) {
	w, err := openPool(ctx, t.storeWriterDSN(), 2)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", t.display, err)
	}
	s := &file{w: w, stmts: make(map[string]*sql.Stmt), ops: make(chan *writeOp, maxBatch), stop: make(chan struct{}), writerDone: make(chan struct{}),
		dirty: make(chan struct{}, 1), checkpointerDone: make(chan struct{})}
	if err := migrate(ctx, w); err != nil {
		s.close()
		return nil, fmt.Errorf("sqlite: %s: %w", t.display, err)
	}
	if s.wc, err = w.Conn(ctx); err != nil {
		s.close()
		return nil, fmt.Errorf("sqlite: open %s: %w", t.display, err)
	}
	readers := max(4, runtime.NumCPU())
	if t.memory {
		readers++ // one of them is pinned by keep
	}
	if s.r, err = openPool(ctx, t.readerDSN(), readers); err != nil {
		s.close()
		return nil, fmt.Errorf("sqlite: open %s: %w", t.display, err)
	}
	if t.memory {
		// A memdb database is freed when its last connection closes; keep
		// one open so pool churn can never drop the data.
		if s.keep, err = s.r.Conn(ctx); err != nil {
			s.close()
			return nil, fmt.Errorf("sqlite: open %s: %w", t.display, err)
		}
	}
	s.started = true
	go s.writer()
	if t.memory {
		close(s.checkpointerDone) // no WAL
	} else {
		go s.checkpointer()
	}
	return s, nil
}

// close stops the writer and the checkpointer and releases the pools; call
// it once.
func (s *file) close() error {
	close(s.stop)
	if s.started {
		<-s.writerDone
		<-s.checkpointerDone
	}
	var errs []error
	for _, st := range s.stmts {
		errs = append(errs, st.Close())
	}
	if s.wc != nil {
		errs = append(errs, s.wc.Close())
	}
	if s.keep != nil {
		errs = append(errs, s.keep.Close())
		s.keep = nil
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	return errors.Join(errs...)
}
