package sqlite_test

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/storage/sqlite"
)

// walResets reads the WAL header's checkpoint sequence number, which
// SQLite increments each time the WAL starts over from its beginning.
func walResets(t *testing.T, path string) uint32 {
	t.Helper()
	f, err := os.Open(path + "-wal")
	if err != nil {
		t.Fatalf("open WAL: %v", err)
	}
	defer f.Close()
	var hdr [16]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		t.Fatalf("read WAL header: %v", err)
	}
	return binary.BigEndian.Uint32(hdr[12:16])
}

func writeRun(ctx context.Context, s *sqlite.Store) error {
	now := time.Now().Unix()
	sid := core.NewUUID()
	_, err := s.CreateRunInSession(ctx, &core.Session{SessionID: sid, CreatedAt: now, UpdatedAt: now},
		&core.Run{RunID: core.NewUUID(), SessionID: sid, Status: core.RunCompleted, Content: "a reply of a few words", CreatedAt: now, UpdatedAt: now})
	return err
}

// The store checkpoints the WAL in the background: after a pause the next
// write starts the WAL over, and under writes that never pause the WAL
// still starts over again and again instead of growing without end.
func TestWALIsCheckpointedInTheBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	// A few writes, a pause, one more write.
	for range 20 {
		if err := writeRun(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	first := walResets(t, path)
	deadline := time.Now().Add(10 * time.Second)
	for walResets(t, path) == first {
		if time.Now().After(deadline) {
			t.Fatal("the WAL did not start over after a pause in the writes")
		}
		time.Sleep(100 * time.Millisecond)
		if err := writeRun(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	// Writers that never pause: the WAL must still start over.
	start := walResets(t, path)
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if err := writeRun(ctx, s); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	// (The bound is generous: under the race detector and the parallel
	// suites one background round can take seconds.)
	deadline = time.Now().Add(30 * time.Second)
	for walResets(t, path)-start < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	resets := walResets(t, path) - start
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if resets < 3 {
		t.Fatalf("under steady writes the WAL started over %d times in 30 s, want 3", resets)
	}
}
