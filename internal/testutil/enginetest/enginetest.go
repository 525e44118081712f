// Package enginetest builds the engine the adapter and core tests run
// against (and more replicas on its store and log, and reads streams): a core.Engine on a fresh SQLite file and an in-memory event log,
// closed with the test. It is a package of its own, not part of testutil,
// because memlog's internal tests import testutil: testutil cannot import
// memlog without a cycle.
package enginetest

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/storage/memlog"
	"github.com/agentgate/agentgate/storage/sqlite"
)

// Options configures New.
type Options struct {
	// Engine is the engine's configuration; New sets its Store and Log.
	Engine core.EngineConfig
	// Log configures the in-memory event log.
	Log core.EventLogConfig
	// SessionMedia makes the store the engine's session media store too,
	// as the gateway wires it (records of sessions' media, orphans deleted).
	SessionMedia bool
}

// Env is an engine with the store and log it runs on.
type Env struct {
	Engine *core.Engine
	Store  *sqlite.Store
	Log    *memlog.Log
}

// New returns an engine on a fresh SQLite file and an in-memory log, with
// agents registered. The engine, the log and the store are closed when the
// test ends, after the cleanups the caller registers later (t.Cleanup runs
// last-in first-out), so an adapter shut down in those still has its engine.
func New(t testing.TB, opts Options, agents ...core.Agent) *Env {
	t.Helper()
	store, err := sqlite.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	log := memlog.New(opts.Log)
	cfg := opts.Engine
	cfg.Store, cfg.Log = store, log
	if opts.SessionMedia {
		cfg.SessionMedia = store
	}
	eng, err := core.NewEngine(cfg)
	if err != nil {
		_ = log.Close()
		_ = store.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = eng.Close(ctx)
		_ = log.Close()
		_ = store.Close()
	})
	for _, a := range agents {
		if err := eng.RegisterAgent(a); err != nil {
			t.Fatal(err)
		}
	}
	return &Env{Engine: eng, Store: store, Log: log}
}

// Replica returns one more engine (another "replica") on env's store and
// log, with runnables registered, closed with the test before them.
func (env *Env) Replica(t testing.TB, cfg core.EngineConfig, runnables ...core.Agent) *core.Engine {
	t.Helper()
	cfg.Store, cfg.Log = env.Store, env.Log
	eng, err := core.NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = eng.Close(ctx)
	})
	for _, a := range runnables {
		if err := eng.RegisterRunnable(a); err != nil {
			t.Fatal(err)
		}
	}
	return eng
}

// Collect reads a stream to its end (io.EOF), within 10 s.
func Collect(t testing.TB, s *core.Stream) []core.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []core.Event
	for {
		ev, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("stream: %v (after %d events)", err, len(out))
		}
		out = append(out, ev)
	}
}
