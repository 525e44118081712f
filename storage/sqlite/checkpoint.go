package sqlite

import (
	"context"
	"time"
)

// WAL checkpoints. SQLite's automatic checkpoint runs inside the commit
// that crosses its threshold: that commit copies the WAL's pages into the
// database file and fsyncs both, so every write queued behind it (with
// group commit, every caller waiting for the next batch) waits for the
// disk. Under load that was a stall of several milliseconds about twenty
// times a second.
//
// A Store's file (the state database, and the traces' one) turns the automatic checkpoint off on its writer connection and
// checkpoints from a goroutine of its own, on the writer pool's second
// connection, a moment after the writer has committed. A PASSIVE
// checkpoint never blocks the writer: it copies the frames committed so
// far while new ones are appended. The WAL can only start over from its
// beginning once every frame has been copied, which under a steady stream
// of writes never happens behind the writer's back; so when the
// checkpointer leaves frames behind, it asks the writer to run a PASSIVE
// checkpoint itself between two batches, which has only those few frames
// to copy, and lets the next transaction restart the WAL.

// checkpointEvery is how long after a commit the checkpointer runs: the
// frames of that period are copied together.
const checkpointEvery = 200 * time.Millisecond

// walSizeLimit is the size, in bytes, a WAL is cut back to when it
// restarts (SQLite's journal_size_limit).
const walSizeLimit = 64 << 20

// maxRounds bounds the background checkpoints of one period; catchUpFrames
// is how many frames a round may have left for the writer to copy.
const (
	maxRounds     = 4
	catchUpFrames = 512
)

// checkpointSQL returns (busy, frames in the WAL, frames checkpointed).
const checkpointSQL = "PRAGMA wal_checkpoint(PASSIVE)"

// committed tells the checkpointer that the writer committed.
func (s *file) committed() {
	s.commits.Add(1)
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// checkpointer checkpoints checkpointEvery after a commit until the store
// closes.
func (s *file) checkpointer() {
	defer close(s.checkpointerDone)
	timer := time.NewTimer(checkpointEvery)
	timer.Stop()
	for {
		select {
		case <-s.dirty:
		case <-s.stop:
			return
		}
		timer.Reset(checkpointEvery)
		select {
		case <-timer.C:
		case <-s.stop:
			return
		}
		s.checkpointRounds()
	}
}

// checkpointRounds checkpoints in the background until the writer has
// little left to copy, and then asks it to. Each round copies what the
// round before left: the frames the writer appended meanwhile, fewer each
// time.
func (s *file) checkpointRounds() {
	last := int64(-1)
	for range maxRounds {
		var busy, log, done int64
		before := s.commits.Load()
		err := s.w.QueryRowContext(context.Background(), checkpointSQL).Scan(&busy, &log, &done)
		if err != nil || busy != 0 {
			// Another process is checkpointing, or the disk failed: left
			// to the next period (and to SQLite's checkpoint on close).
			return
		}
		if done == log && s.commits.Load() == before {
			return // all copied, nothing appended: the WAL restarts by itself
		}
		if last >= 0 && log-last <= catchUpFrames {
			break
		}
		last = log
	}
	// The writer copies the rest between two batches; its next
	// transaction then restarts the WAL.
	s.catchUp.Store(true)
}

// catchUpCheckpoint runs on the writer goroutine between batches when the
// checkpointer asked for it.
func (s *file) catchUpCheckpoint() {
	if !s.catchUp.CompareAndSwap(true, false) {
		return
	}
	_, _ = (&wtx{s: s}).ExecContext(context.Background(), checkpointSQL)
}
