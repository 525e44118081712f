package eventlogtest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
)

func testLifecycle(t *testing.T, newLog NewLogFunc) {
	t.Run("Ping", func(t *testing.T) {
		t.Parallel()
		ctx, l := testCtx(t), newLog(t, defaultConfig())
		if err := l.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})

	t.Run("OperationsAfterClose", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		appendRange(t, ctx, l, run, 0, 2)
		if err := l.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		// Which error is up to the implementation; it must be one, not a
		// panic.
		ops := map[string]func() error{
			"Append": func() error { _, err := l.Append(ctx, newEvent(run, 2)); return err },
			"Read":   func() error { _, err := l.Read(ctx, core.ReadParams{RunID: run, After: -1}); return err },
			"Subscribe": func() error {
				sub, err := l.Subscribe(ctx, core.ReadParams{RunID: run, After: -1})
				if err == nil {
					defer sub.Close()
					_, err = next(ctx, sub)
				}
				return err
			},
			"Finish":       func() error { return l.Finish(ctx, run) },
			"SignalCancel": func() error { return l.SignalCancel(ctx, run) },
			"WatchCancel": func() error {
				_, stop, err := l.WatchCancel(ctx, run)
				if err == nil {
					stop()
				}
				return err
			},
			"Ping": func() error { return l.Ping(ctx) },
		}
		for name, op := range ops {
			if err := catch(op); err == nil {
				t.Errorf("%s after Close: no error", name)
			} else if errors.Is(err, errPanic) {
				t.Errorf("%s after Close: %v", name, err)
			}
		}
	})

	t.Run("CloseEndsSubscriptions", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		appendRange(t, ctx, l, run, 0, 1)
		sub := mustSubscribe(t, ctx, l, core.ReadParams{RunID: run, After: 0})
		got := make(chan error, 1)
		go func() {
			_, err := next(ctx, sub)
			got <- err
		}()
		time.Sleep(waitShort) // let Next block first
		if err := l.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		select {
		case err := <-got:
			if err == nil {
				t.Fatalf("Next returned an event after Close")
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Next kept waiting after Close until its deadline")
			}
		case <-time.After(waitLong + time.Second):
			t.Fatalf("Next still blocked after Close")
		}
	})
}

var errPanic = errors.New("panic")

// catch runs op and turns a panic into an error matching errPanic.
func catch(op func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errPanic, p)
		}
	}()
	return op()
}
