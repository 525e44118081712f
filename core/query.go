package core

import (
	"context"
	"errors"
)

// RunReader reads runs and sessions, for code outside the engine (the
// adapters, and every resource group that looks at runs). The Engine is
// the one implementation and the RunStore is not reachable past it: a run
// whose first write the engine still holds in memory (deferred.go) is
// released to the store, or answered from memory, before the store is
// read, so no reader misses a run that is executing and not stored yet.
type RunReader interface {
	Get(ctx context.Context, runID string) (*Run, error)
	List(ctx context.Context, p ListRunsParams) ([]*Run, error)
	GetSession(ctx context.Context, id string) (*Session, error)
	ListSessions(ctx context.Context, p ListSessionsParams) ([]*Session, int, error)
}

var _ RunReader = (*Engine)(nil)

// Get returns the stored run.
func (e *Engine) Get(ctx context.Context, runID string) (*Run, error) {
	if err := CheckID("run_id", runID); err != nil {
		return nil, err
	}
	if r := e.deferred(runID).snapshot(); r != nil {
		return r, nil // executing here and not stored yet
	}
	if r := e.final.get(runID, e.cfg.Now()); r != nil {
		return r, nil // ended, and read moments ago
	}
	r, err := e.store.GetRun(ctx, runID)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(CodeNotFound, "run %q not found", runID)
	}
	if err == nil {
		e.final.put(r, nil, e.cfg.Now())
	}
	return r, err
}

// finalCacheMax bounds the ended runs an engine keeps in memory.
const finalCacheMax = 4096

// List returns stored runs matching p.
func (e *Engine) List(ctx context.Context, p ListRunsParams) ([]*Run, error) {
	e.flushDeferred(ctx)
	return e.store.ListRuns(ctx, p)
}
