// Package enginetest builds the engine the adapter and core tests run
// against: a core.Engine on a fresh SQLite file and an in-memory event log,
// closed with the test. It is a package of its own, not part of testutil,
// because memlog's internal tests import testutil: testutil cannot import
// memlog without a cycle.
package enginetest

import (
	"context"
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
