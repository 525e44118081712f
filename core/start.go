package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// StartParams starts a run.
type StartParams struct {
	// AgentID, TeamID or WorkflowID (exactly one) names what runs.
	AgentID    string
	TeamID     string
	WorkflowID string
	Message    string
	SessionID  string // empty: a new session
	UserID     string
	// Background marks a run detached from any request (informational;
	// every run executes detached from the request that started it).
	Background bool
	// Blocking says the caller follows the run only with Wait and shows
	// its id to no one before it ends: the engine may then store the run
	// and append its events once, when it ends (see deferred.go).
	Blocking bool
	// IdempotencyKey, when not empty, makes the start idempotent (see
	// idempotency.go): a start with the same key and request, in the same
	// IdempotencyScope and agent, returns that run instead of a new one.
	IdempotencyKey string
	// IdempotencyScope is whose key it is (the caller); empty is one scope
	// shared by every caller that has none.
	IdempotencyScope string
	// IdempotencyRequest is what else of the request the caller counts as
	// part of it (its mode flags): a retry with other values is another
	// request.
	IdempotencyRequest string
	// ScheduleID and ScheduleRunID name the schedule fire starting the
	// run (stored on it, and on the approvals it pauses for).
	ScheduleID    string
	ScheduleRunID string
	// Media are the files, images, audio and video sent with Message,
	// already in the media store (core/media.Ingest).
	Media []MediaRef
	// MediaSource puts Media back in the media store when their bytes were
	// deleted before the session's record of them (nil: such a run is
	// refused with an unavailable error, never started without them).
	MediaSource MediaRestorer
	// Interface is the adapter starting the run (ExecInfo.Interface).
	Interface string
	// TraceCarrier is the caller's W3C trace context ("traceparent",
	// "tracestate"), or nil (ExecInfo.TraceCarrier).
	TraceCarrier map[string]string
	// EvalRunID tags the run as one of an eval run's (core/eval): stored on
	// the run and shown as its eval_run_id.
	EvalRunID string
	// Version pins a component's version ("": its current version; see
	// Resolver); the run records the version it ran (Run.ComponentVersion).
	Version string
	// KnowledgeFilters restrict the run's knowledge searches
	// (RunInput.KnowledgeFilters); nil: none.
	KnowledgeFilters map[string]any
}

// Ref is the runnable p names: exactly one of AgentID, TeamID and
// WorkflowID.
func (p StartParams) Ref() (Ref, error) {
	var refs []Ref
	for _, r := range []Ref{{KindAgent, p.AgentID}, {KindTeam, p.TeamID}, {KindWorkflow, p.WorkflowID}} {
		if r.ID != "" {
			refs = append(refs, r)
		}
	}
	switch len(refs) {
	case 1:
		return refs[0], nil
	case 0:
		return Ref{}, Errorf(CodeInvalid, "agent_id, team_id or workflow_id is required")
	}
	return Ref{}, Errorf(CodeInvalid, "give one of agent_id, team_id and workflow_id")
}

// For sets the id field of ref's kind (AgentID, TeamID or WorkflowID) and
// returns p.
func (p StartParams) For(ref Ref) StartParams {
	p.AgentID, p.TeamID, p.WorkflowID = ref.ids()
	return p
}

// Start creates a run and begins executing it. It returns the run as
// stored (status PENDING); follow it with Subscribe or Wait.
func (e *Engine) Start(ctx context.Context, p StartParams) (*Run, error) {
	run, _, err := e.start(ctx, p, goSpawn, nil)
	return run, err
}

// RunBlocking starts a run as Start does, with p.Blocking set, and executes
// it in the caller's goroutine instead of one of its own; it returns the run
// as its segment ended (completed, failed, cancelled or paused), as Wait
// would. Unlike Wait it does not return early when ctx ends: the execution
// is the run's, which ctx does not cancel. The run is otherwise like any
// other: listed, cancellable from another request, and waited for by
// Close. A background or queued run is only started (and waited for) as
// Start and Wait do.
func (e *Engine) RunBlocking(ctx context.Context, p StartParams) (*Run, error) {
	p.Blocking = true
	var job func()
	run, ar, err := e.start(ctx, p, func(f func()) { job = f }, nil)
	if err != nil {
		return nil, err
	}
	if job == nil {
		return e.Wait(ctx, run.RunID, -1)
	}
	job()
	return e.ended(ctx, ar, run.RunID)
}

// ended returns the run of ar, whose segment has ended: as the executor
// stored it, or, if it could not, as the store has it.
func (e *Engine) ended(ctx context.Context, ar *activeRun, runID string) (*Run, error) {
	if ar.final != nil {
		r := *ar.final
		return &r, nil
	}
	return e.Get(ctx, runID)
}

// StartStream is Start for a caller that follows the run from its first
// event: the stream it returns is fed by the run's executor as events are
// appended (see feed), so trimming never refuses it. A queued background
// run, executed by whichever replica takes it, is followed through the log.
func (e *Engine) StartStream(ctx context.Context, p StartParams) (*Run, *Stream, error) {
	p.Blocking = false
	f := newFeed()
	run, ar, err := e.start(ctx, p, goSpawn, f)
	if err != nil {
		return nil, nil, err
	}
	if ar == nil {
		s, err := e.SubscribeRun(ctx, run, -1)
		if err != nil {
			return nil, nil, err
		}
		return run, s, nil
	}
	return run, &Stream{feed: f, log: e.log, e: e, runID: run.RunID, last: -1}, nil
}

// goSpawn runs f in a goroutine of its own.
func goSpawn(f func()) { go f() }

// start is Start; launch runs the run's execution through spawn, feeding
// its events to f (nil: none).
func (e *Engine) start(ctx context.Context, p StartParams, spawn func(func()), f *feed) (*Run, *activeRun, error) {
	select {
	case <-e.closed:
		return nil, nil, Errorf(CodeUnavailable, "server is shutting down")
	default:
	}
	ref, err := p.Ref()
	if err != nil {
		return nil, nil, err
	}
	version, err := ParseVersion(p.Version)
	if err != nil {
		return nil, nil, err
	}
	a, err := e.RunnableAt(ctx, ref.Kind, ref.ID, version)
	if err != nil {
		return nil, nil, err
	}
	if strings.TrimSpace(p.Message) == "" {
		return nil, nil, Errorf(CodeInvalid, "message is required")
	}
	if err := e.checkMessage(p.Message); err != nil {
		return nil, nil, err
	}
	if err := errors.Join(CheckID("session_id", p.SessionID), CheckID("user_id", p.UserID)); err != nil {
		return nil, nil, err
	}
	key, err := e.keyOf(p) // the request as sent: before a session id is generated
	if err != nil {
		return nil, nil, err
	}
	info := a.Info()
	now := e.now()
	generatedSession := p.SessionID == ""
	if generatedSession {
		p.SessionID = e.cfg.NewID()
	}
	queued := p.Background && e.cfg.Queue != nil
	if !queued {
		// Refused at once while the event log is down, instead of failing
		// (or hanging) on its first event.
		if err := e.logUsable(ctx); err != nil {
			return nil, nil, err
		}
	}
	run := &Run{
		RunID: e.cfg.NewID(), SessionID: p.SessionID,
		UserID: p.UserID, Status: RunRunning, Input: NewRunInput(p.Message, p.Media),
		Background: p.Background, ScheduleID: p.ScheduleID, ScheduleRunID: p.ScheduleRunID, TraceCarrier: p.TraceCarrier, EvalRunID: p.EvalRunID, CreatedAt: now, UpdatedAt: now,
		LeaseOwner: e.cfg.InstanceID, LeaseUntil: e.leaseUntil(),
	}
	run.Input.KnowledgeFilters = p.KnowledgeFilters
	run.setRunnable(info)
	if queued {
		// Unowned; the lease bounds how long it may wait to be started.
		run.Status, run.LeaseOwner, run.LeaseUntil = RunPending, "", e.nowMs()+e.cfg.QueueGrace.Milliseconds()
	}
	sess := &Session{
		SessionID: p.SessionID, SessionName: SessionNameOf(p.Message), SessionType: SessionAgent, UserID: p.UserID,
		AgentID: run.AgentID, TeamID: run.TeamID, WorkflowID: run.WorkflowID, CreatedAt: now, UpdatedAt: now,
	}
	switch ref.Kind {
	case KindTeam:
		sess.SessionType = SessionTeam
	case KindWorkflow:
		sess.SessionType = SessionWorkflow
	}
	// The session's media records come first: a run that carries media
	// is never stored without them (a retry adds nothing).
	if err := e.recordMedia(ctx, p.SessionID, p.UserID, p.Media, p.MediaSource); err != nil {
		return nil, nil, err
	}
	hold := p.Blocking && e.cfg.CreateDelay > 0
	if !queued && key == nil && (hold || e.defers()) {
		// Written when it ends, or after CreateDelay (deferred.go). A
		// session id the caller did not give is new.
		d := newDeferredCreate(sess, run)
		d.holding = hold
		// Armed once assigned, so the callback never races the assignment.
		d.timer = time.AfterFunc(time.Hour, func() { _ = d.flush(context.Background(), e) })
		d.timer.Reset(e.cfg.CreateDelay)
		snapshot := *run
		ar := e.launch(a, run, execOpts{msg: p.Message, noHistory: generatedSession, create: d, feed: f, iface: p.Interface, carrier: p.TraceCarrier}, spawn)
		return &snapshot, ar, nil
	}
	newSession, existing, err := e.createRun(ctx, key, sess, run)
	if err != nil {
		return nil, nil, fmt.Errorf("create run: %w", err)
	}
	if existing != nil {
		return existing, nil, nil // a retry: the key's run
	}
	snapshot := *run
	if queued {
		if err := e.cfg.Queue.Enqueue(ctx, run.RunID); err != nil {
			w := &runWriter{e: e, run: run, last: -1}
			e.finishError(context.WithoutCancel(ctx), w, fmt.Errorf("could not queue the run: %w", err), "queue_error")
			return nil, nil, &Error{Code: CodeUnavailable, Message: "could not queue the background run", Err: err}
		}
		return &snapshot, nil, nil
	}
	ar := e.launch(a, run, execOpts{msg: p.Message, noHistory: newSession, feed: f, iface: p.Interface, carrier: p.TraceCarrier}, spawn)
	return &snapshot, ar, nil
}
