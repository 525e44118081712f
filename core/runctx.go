package core

import "context"

// runKey is the context key of the run a tool is called for.
type runKey struct{}

// WithRun returns ctx carrying run: the runnables set it when they call a
// tool, so that a tool acting for someone (the schedule tools) knows whose
// run it is in.
func WithRun(ctx context.Context, run *Run) context.Context {
	return context.WithValue(ctx, runKey{}, run)
}

// RunFromContext returns the run WithRun put in ctx (nil, false outside a
// tool call).
func RunFromContext(ctx context.Context) (*Run, bool) {
	r, ok := ctx.Value(runKey{}).(*Run)
	return r, ok && r != nil
}
