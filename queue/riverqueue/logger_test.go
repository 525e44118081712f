package riverqueue_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/testutil"
	"github.com/agentgate/agentgate/queue/riverqueue"
)

// River's housekeeping reaches the gateway's log at Debug: at the default
// Info level a queue that starts, executes a job and stops logs nothing;
// at Debug, River's records are there, lowered to DEBUG.
func TestRiverChatterIsDebug(t *testing.T) {
	t.Parallel()
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		db := newSQLiteDB(t)
		var out testutil.SyncBuffer
		logger := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: level}))
		exec := newFake(nil)
		q, _ := db.newQueue(t, exec, riverqueue.Config{Logger: logger})
		ctx := context.Background()
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := q.Enqueue(ctx, "run-1"); err != nil {
			t.Fatal(err)
		}
		exec.next(t, 10*time.Second)
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := q.Stop(sctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		logs := out.String()
		switch level {
		case slog.LevelInfo:
			if strings.TrimSpace(logs) != "" {
				t.Errorf("at level info, a queue's start, job and stop logged:\n%s", logs)
			}
		case slog.LevelDebug:
			if !strings.Contains(logs, "level=DEBUG") {
				t.Errorf("at level debug, River's records should be there:\n%s", logs)
			}
			if strings.Contains(logs, "level=INFO") {
				t.Errorf("a River record kept level INFO:\n%s", logs)
			}
		}
	}
}
