package core

import (
	"context"
	"errors"
	"time"
)

// RunObserver watches runs execute on this replica: the seam traces
// (core/trace/tracing) and Prometheus metrics (core/metric/prom) plug into.
// Observers are called on the run's path, so each call must return at once
// (record, enqueue, never block on I/O) and must not retain ev beyond the
// call (the engine reuses event memory). Register observers with
// Engine.AddRunObserver before serving; with none registered a run pays
// nothing for this hook.
type RunObserver interface {
	// RunBegin is called when this replica starts executing run: a new
	// run, a queued one taken from the queue, a continue after a pause, or
	// a restart after its executor was lost. ctx carries the caller's
	// trace (see ExecInfo.TraceCarrier). The returned context is the one
	// the run executes under (it may carry a span for outgoing calls); an
	// observer with nothing to add returns ctx.
	RunBegin(ctx context.Context, run *Run, info ExecInfo) context.Context
	// RunEvent is called after an event of the run (or a child's event
	// forwarded into its stream) was appended to the log, in stream order.
	// ctx is the context RunBegin returned.
	RunEvent(ctx context.Context, run *Run, ev *Event)
	// RunEnd is called once, when the run leaves this replica: finished
	// (completed, error, cancelled) or paused. ctx is the context RunBegin
	// returned.
	RunEnd(ctx context.Context, run *Run, status RunStatus, err error)
}

// ExecInfo says how an execution of a run came about.
type ExecInfo struct {
	// Interface is the adapter that started the run: "rest", "ws", "mcp",
	// "a2a", "slack", "schedule", "cli", "queue" (a queued run taken by a
	// worker), "child" (a team's member, a workflow's step), "eval" (an
	// eval run's iteration, core/eval).
	Interface string
	// Continue is set when the run continues from a pause.
	Continue bool
	// Restart counts how often the run was executed again (0 the first
	// time).
	Restart int
	// TraceCarrier holds the caller's W3C trace context ("traceparent",
	// "tracestate"), kept with the run so a queued run executed elsewhere
	// still continues the caller's trace. Nil when there is none.
	TraceCarrier map[string]string
	// Queued is how long the run waited between being accepted and
	// starting to execute (0 for a run started at once).
	Queued time.Duration
}

// ToolObserver is an optional interface of a RunObserver that gives a tool
// call a context of its own: a tracer's tool span, so what the tool calls
// out (an HTTP tool's request, an MCP server) is parented on the tool's
// span rather than on the run's.
type ToolObserver interface {
	// ToolContext is the context the tool call toolCallID of run executes
	// under (called after its ToolCallStarted was appended); ctx when the
	// observer has nothing to add. It must return at once.
	ToolContext(ctx context.Context, run *Run, toolCallID string) context.Context
}

// toolObserversKey holds, in a run's execution context, its observers that
// are ToolObservers.
type toolObserversKey struct{}

// ToolContext is the context an agent executes the tool call toolCallID
// of run under: ctx as the run's ToolObservers make it (see ToolObserver),
// ctx itself when there are none. Agents call it after emitting the
// call's ToolCallStarted.
func ToolContext(ctx context.Context, run *Run, toolCallID string) context.Context {
	obs, _ := ctx.Value(toolObserversKey{}).([]ToolObserver)
	for _, o := range obs {
		ctx = o.ToolContext(ctx, run, toolCallID)
	}
	return ctx
}

// ResumeObserver is an optional interface of a RunObserver told of every
// resume of a run's stream after a cursor (SubscribeRun with
// last_event_index ≥ 0), however it is served: the event log, the cache
// of ended runs, a replayed segment.
type ResumeObserver interface {
	// StreamResumed is called once per resume: outcome "exact" (the
	// stream continues right after the cursor) or "refused" (the events
	// after it are no longer kept: a *GoneError). It must return at once.
	StreamResumed(outcome string)
}

// noteResume tells the ResumeObservers how a resume ended (err: its
// result; errors other than a GoneError are not outcomes).
func (e *Engine) noteResume(err error) {
	outcome := "exact"
	if err != nil {
		var ge *GoneError
		if !errors.As(err, &ge) {
			return
		}
		outcome = "refused"
	}
	for _, o := range e.runObservers {
		if r, ok := o.(ResumeObserver); ok {
			r.StreamResumed(outcome)
		}
	}
}

// AddRunObserver adds o to the observers of runs. Call it before serving.
func (e *Engine) AddRunObserver(o RunObserver) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.runObservers = append(e.runObservers, o)
}

// beginObserved tells the observers that w's run begins executing here and
// returns the context it executes under; w's appends then report to them.
func (e *Engine) beginObserved(ctx context.Context, w *runWriter, info ExecInfo) context.Context {
	var tools []ToolObserver
	for _, o := range e.runObservers {
		ctx = o.RunBegin(ctx, w.run, info)
		if t, ok := o.(ToolObserver); ok {
			tools = append(tools, t)
		}
	}
	if tools != nil { // a child run's context inherits them
		ctx = context.WithValue(ctx, toolObserversKey{}, tools)
	}
	w.obs, w.octx = e.runObservers, ctx
	return ctx
}

// endObserved tells the observers that w's run left this replica.
func (e *Engine) endObserved(w *runWriter) {
	w.mu.Lock()
	obs, ctx := w.obs, w.octx
	w.obs = nil // a later retried append reports to no one
	w.mu.Unlock()
	run := w.run
	var err error
	if run.Status == RunError && run.Error != "" {
		err = &AgentError{Type: run.ErrorType, Err: errString(run.Error)}
	}
	for _, o := range obs {
		o.RunEnd(ctx, run, run.Status, err)
	}
}

// queuedFor is how long a run waited to be executed: a PENDING run since
// it was created, any other 0.
func (e *Engine) queuedFor(run *Run) time.Duration {
	if run.Status != RunPending || run.CreatedAt == 0 {
		return 0
	}
	return max(time.Duration(e.now()-run.CreatedAt)*time.Second, 0)
}

type errString string

func (s errString) Error() string { return string(s) }

// TraceCarrierOf is the W3C trace context among a request's headers (get
// reads one, case-insensitively): "traceparent" and "tracestate", or nil
// when there is no traceparent (or a longer one than the format allows).
func TraceCarrierOf(get func(string) string) map[string]string {
	tp := get("traceparent")
	if tp == "" || len(tp) > 128 {
		return nil
	}
	c := map[string]string{"traceparent": tp}
	if ts := get("tracestate"); ts != "" && len(ts) <= 512 {
		c["tracestate"] = ts
	}
	return c
}
