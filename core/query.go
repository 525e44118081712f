package core

import (
	"context"
	"errors"
)

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
