package ws

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// outbox is where a session's frames go: the socket's bounded write queue.
type outbox interface {
	// send queues frame for the client. It blocks while the queue is full,
	// at most the slow-consumer timeout (then the socket is closed with
	// 1013), and returns false when the frame will not be sent: ctx ended,
	// or the socket is closing. The caller then stops producing.
	send(ctx context.Context, frame []byte) bool
}

// maxAuthFailures is how many refused authenticate actions a socket may
// send; the next one closes it (1008).
const maxAuthFailures = 5

// session is the protocol state of one socket: its principal, the runs it
// follows and which of them are foreground. handle is called by the
// socket's reader goroutine only; pumps run in their own goroutines.
//
// Every method that takes a ctx is given the socket's: it ends when the
// socket ends, which stops every pump.
type session struct {
	h   *Handler
	out outbox
	// agno: the socket speaks agno's workflow protocol (AgnoPath).
	agno bool

	// principal and authFailures are used by the reader goroutine only.
	principal    *auth.Principal
	authFailures int
	// closeWith, when set by handle, asks the socket to close with it.
	closeWith *closeReason
	// expireAt, when set (by the socket), is told when the principal's
	// credential expires (zero: never), at the start and after each
	// authenticate: the socket closes then.
	expireAt func(time.Time)

	// trace is the upgrade request's W3C trace context (or nil).
	trace map[string]string

	// mu guards follows and foreground.
	mu      sync.Mutex
	follows map[string]*follow // by run id: the live pump of each followed run
	// foreground holds the runs started or continued here with background
	// false whose segment has not ended yet: a client disconnect cancels them.
	foreground map[string]bool
	pumps      sync.WaitGroup
	// idle is closed and replaced when follows becomes empty (shutdown waits
	// for it); nil while nothing waits.
	idle chan struct{}
}

// follow is one run a socket follows: a pump from the event log to the
// socket's queue.
type follow struct {
	runID  string
	id     json.RawMessage // the id of the action that started it
	action Action
	cancel context.CancelFunc
	done   chan struct{}
	// frames renders one event (default: RenderEvent); failed renders the
	// error that ends the follow (default: an error frame naming it).
	frames func(ev *core.Event) [][]byte
	failed func(err error) []byte
}

func newSession(h *Handler, out outbox, p *auth.Principal) *session {
	if p == nil {
		// Without the transport's middleware nothing is restricted (as REST).
		p = &auth.Principal{Subject: "anonymous", Kind: auth.KindAnonymous, Admin: true}
	}
	return &session{h: h, out: out, principal: p, follows: map[string]*follow{}, foreground: map[string]bool{}}
}

// authRequired reports whether the principal can do no more than the
// public actions.
func (s *session) authRequired() bool { return s.principal.Anonymous() && !s.principal.Admin }

func (s *session) reply(ctx context.Context, frame []byte) { s.out.send(ctx, frame) }

// handle answers one client text frame. ctx is the socket's.
func (s *session) handle(ctx context.Context, b []byte) {
	if s.agno {
		s.handleAgno(ctx, b)
		return
	}
	f, err := ParseClientFrame(b)
	if err != nil {
		s.reply(ctx, RenderError(f.ID, f.Action, "", err))
		return
	}
	if f.Action != ActionPing && s.h.isDraining() {
		s.reply(ctx, RenderError(f.ID, f.Action, f.RunID, core.Errorf(core.CodeUnavailable, "server is shutting down")))
		return
	}
	actx, cancel := context.WithTimeout(ctx, s.h.cfg.ActionTimeout)
	defer cancel()
	if f.Action != ActionAuthenticate {
		// The credentials were checked when they were presented; check
		// that they still hold (not expired, a service account not
		// deleted or revoked since) before acting on them.
		if err := s.recheck(actx); err != nil {
			s.reply(ctx, RenderError(f.ID, f.Action, f.RunID, err))
			return
		}
	}
	switch f.Action {
	case ActionAuthenticate:
		err = s.authenticate(actx, &f)
	case ActionPing:
		if err = s.authorize(actx, ActionPing, core.Ref{}); err == nil {
			s.reply(ctx, RenderPong(f.ID))
		}
	case ActionStart:
		err = s.start(ctx, actx, &f)
	case ActionSubscribe:
		err = s.subscribe(ctx, actx, &f)
	case ActionContinue:
		err = s.continueRun(ctx, actx, &f)
	case ActionCancel:
		err = s.cancelRun(actx, &f)
	}
	if err != nil {
		if core.CodeOf(err) == core.CodeInternal {
			s.h.logger.Error("ws action failed", "action", string(f.Action), "run_id", f.RunID, "err", err)
		}
		s.reply(ctx, RenderError(f.ID, f.Action, f.RunID, err))
	}
}

// recheck fails when the principal's credential no longer holds; an
// unauthorized answer also asks the socket to close (1008, with the
// reason): the client must open a new socket with a valid credential.
func (s *session) recheck(ctx context.Context) error {
	if s.h.authn == nil {
		return nil
	}
	err := s.h.authn.Recheck(ctx, s.principal)
	var ce *core.Error
	if errors.As(err, &ce) && ce.Code == core.CodeUnauthorized {
		s.closeWith = &closeReason{kind: closedByPolicy, code: closePolicyViolation, text: ce.Message, flush: true}
	}
	return err
}

// continuing fills p's approver from the socket's principal (the action's
// context does not carry it): one who may resolve approvals is not
// refused by a pending one, and resolves it by continuing.
func (s *session) continuing(ctx context.Context, p core.ContinueParams) core.ContinueParams {
	return auth.Continuing(auth.WithPrincipal(ctx, s.principal), p)
}

// authorize asks the policy whether the socket's principal may do action
// on the runnable (an empty ref: an agent, or the action as a whole).
func (s *session) authorize(ctx context.Context, a Action, ref core.Ref) error {
	return s.h.policy.Authorize(auth.WithPrincipal(ctx, s.principal), a.OperationIDFor(ref.Kind), ref.ID)
}

func (s *session) authenticate(ctx context.Context, f *ClientFrame) error {
	p, err := s.checkToken(ctx, f)
	if err != nil {
		return err
	}
	s.reply(ctx, RenderAuthenticated(f.ID, p))
	return nil
}

// errorFrame renders an error the socket reports on its own (a binary or
// oversized frame) in the socket's protocol.
func (s *session) errorFrame(err error) []byte {
	if s.agno {
		return renderAgnoError(err)
	}
	return RenderError(nil, "", "", err)
}

// checkToken authenticates the frame's token and makes its principal the
// socket's (too many refusals in a row close the socket).
func (s *session) checkToken(ctx context.Context, f *ClientFrame) (*auth.Principal, error) {
	if err := s.authorize(ctx, ActionAuthenticate, core.Ref{}); err != nil {
		return nil, err
	}
	var p *auth.Principal
	var err error
	if s.h.authn == nil {
		p = &auth.Principal{Subject: "anonymous", Kind: auth.KindAnonymous, Admin: true}
	} else {
		p, err = s.h.authn.AuthenticateToken(ctx, f.Token)
	}
	if err != nil {
		if core.CodeOf(err) == core.CodeUnauthorized {
			httptransport.AuthRejectedInBand(ctx, httptransport.AuthReason(err))
			if s.authFailures++; s.authFailures >= maxAuthFailures {
				s.closeWith = &closeReason{kind: closedByPolicy, code: closePolicyViolation, text: "too many failed authentications", flush: true}
			}
		}
		return nil, err
	}
	s.principal, s.authFailures = p, 0
	if s.expireAt != nil {
		s.expireAt(p.ExpiresAt)
	}
	return p, nil
}

// start, subscribe and continue take the socket's ctx (the pump they
// start lives as long as it) and the action's actx (bounded engine calls).
func (s *session) start(ctx, actx context.Context, f *ClientFrame) error {
	ref := f.Ref()
	if err := s.authorize(actx, ActionStart, ref); err != nil {
		return err
	}
	p := s.principal
	owned := p.Owned(s.h.eng)
	// Under isolation a session of another user is not found.
	if err := owned.UsableSession(actx, f.SessionID); err != nil {
		return err
	}
	if err := s.roomFor(""); err != nil {
		return err
	}
	// The run's own stream is fed by its executor, so trimming never
	// refuses it (core.Engine.StartStream).
	// The upload keeps the media's bytes until the run has recorded them
	// (StartStream returns after that): bytes a deleted session's orphan
	// delete removes in between are stored again. A refused run's media
	// are deleted again unless a session carries them.
	up := s.h.cfg.Media.NewUpload().Restorable()
	started := false
	defer func() { up.End(actx, s.h.eng, started) }()
	refs, err := up.Resolve(actx, f.Media)
	if err != nil {
		return err
	}
	run, stream, err := s.h.eng.StartStream(actx, core.StartParams{
		AgentID: f.AgentID, TeamID: f.TeamID, WorkflowID: f.WorkflowID, Message: f.Message, SessionID: f.SessionID,
		UserID: owned.UserID(f.UserID), Background: f.Background,
		IdempotencyKey: f.IdempotencyKey, IdempotencyScope: p.Owner(), Media: refs, MediaSource: up,
		Interface: "ws", TraceCarrier: s.trace,
	})
	if err != nil {
		return err
	}
	started = true
	up.Close() // recorded: following the run keeps no spool
	ack := ackOf(f.ID, ActionStart, run)
	ack.Background = f.Background
	return s.follow(ctx, f, run.RunID, -1, stream, !f.Background, ack)
}

// runOf returns the run named by the frame if the principal may act on it
// with action: credentials first (an anonymous caller learns nothing about
// runs), then the run (not found also when it belongs to another user or
// does not match the frame's agent_id or session_id), then the scope on
// the run's runnable.
func (s *session) runOf(ctx context.Context, a Action, f *ClientFrame) (*core.Run, error) {
	if err := s.authorize(ctx, a, core.Ref{}); core.CodeOf(err) == core.CodeUnauthorized {
		return nil, err
	}
	run, err := s.principal.Owned(s.h.eng).Run(ctx, f.RunID)
	if err != nil {
		return nil, err
	}
	if !f.matches(run) {
		return nil, core.Errorf(core.CodeNotFound, "run %q not found", f.RunID)
	}
	if err := s.authorize(ctx, a, run.Ref()); err != nil {
		return nil, err
	}
	return run, nil
}

func (s *session) subscribe(ctx, actx context.Context, f *ClientFrame) error {
	run, err := s.runOf(actx, ActionSubscribe, f)
	if err != nil {
		return err
	}
	if err := s.roomFor(run.RunID); err != nil {
		return err
	}
	after := f.LastEventIndex
	ack := ackOf(f.ID, ActionSubscribe, run)
	ack.LastEventIndex = &after
	return s.follow(ctx, f, run.RunID, after, nil, false, ack)
}

func (s *session) continueRun(ctx, actx context.Context, f *ClientFrame) error {
	if _, err := s.runOf(actx, ActionContinue, f); err != nil {
		return err
	}
	if err := s.roomFor(f.RunID); err != nil {
		return err
	}
	run, pausedAt, stream, err := s.h.eng.ContinueStream(actx, s.continuing(actx, core.ContinueParams{RunID: f.RunID, Tools: f.Tools, Interface: "ws", TraceCarrier: s.trace}))
	if err != nil {
		return err
	}
	ack := ackOf(f.ID, ActionContinue, run)
	ack.LastEventIndex, ack.Background = &pausedAt, f.Background
	return s.follow(ctx, f, run.RunID, pausedAt, stream, !f.Background, ack)
}

func (s *session) cancelRun(ctx context.Context, f *ClientFrame) error {
	if _, err := s.runOf(ctx, ActionCancel, f); err != nil {
		return err
	}
	run, err := s.h.eng.Cancel(ctx, f.RunID)
	if err != nil {
		return err
	}
	s.reply(ctx, RenderAck(ackOf(f.ID, ActionCancel, run)))
	return nil
}

// roomFor fails when the socket already follows as many runs as allowed
// (a run it follows already does not count: following it again replaces
// the pump).
func (s *session) roomFor(runID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, again := s.follows[runID]; again && runID != "" {
		return nil
	}
	if len(s.follows) >= s.h.cfg.MaxRuns {
		return core.Errorf(core.CodeUnavailable, "this socket already follows %d runs; wait for one to end", s.h.cfg.MaxRuns)
	}
	return nil
}

// follow subscribes to the run after the cursor (unless given the stream,
// a run's own, already open), sends the ack, then pumps
// the run's events to the socket until its segment ends. A pump already
// following the run on this socket is stopped first (its frames all come
// before the ack). foreground marks the run to be cancelled if the client
// goes away before its segment ends.
func (s *session) follow(ctx context.Context, f *ClientFrame, runID string, after int64, stream *core.Stream, foreground bool, ack Ack) error {
	fl := &follow{runID: runID, id: f.ID, action: f.Action,
		frames: func(ev *core.Event) [][]byte { return [][]byte{RenderEvent(ev)} },
		failed: func(err error) []byte { return RenderError(f.ID, f.Action, runID, err) }}
	first := func(done bool) [][]byte {
		ack.Done = done
		return [][]byte{RenderAck(ack)}
	}
	return s.followWith(ctx, fl, after, stream, foreground, first)
}

// followWith is follow with fl's renderers: first gives the frames sent
// before any event (done: nothing is left after the cursor, and nothing
// more is sent).
func (s *session) followWith(ctx context.Context, fl *follow, after int64, stream *core.Stream, foreground bool, first func(done bool) [][]byte) error {
	runID := fl.runID
	s.mu.Lock()
	old := s.follows[runID]
	s.mu.Unlock()
	if old != nil {
		old.cancel()
		<-old.done
	}
	fctx, cancel := context.WithCancel(ctx)
	if stream == nil {
		var err error
		if stream, err = s.h.eng.Subscribe(fctx, runID, after); err != nil {
			cancel()
			return err
		}
	}
	if foreground {
		s.mu.Lock()
		s.foreground[runID] = true
		s.mu.Unlock()
	}
	done := stream.Done()
	// Followed before the ack goes out: a shutdown that the client asks
	// for once it has the ack waits for this run's frames (waitIdle).
	fl.cancel, fl.done = cancel, make(chan struct{})
	s.mu.Lock()
	s.follows[runID] = fl
	s.pumps.Add(1)
	s.mu.Unlock()
	sent := true
	for _, fr := range first(done) {
		if sent = s.out.send(fctx, fr); !sent {
			break
		}
	}
	if !sent || done {
		cancel()
		_ = stream.Close()
		s.unfollow(fl)
		s.pumps.Done()
		return nil
	}
	go s.pump(fctx, fl, stream)
	return nil
}

// pump sends the stream's events until its segment ends, the stream fails
// (an error frame names the run and the action that followed it) or the
// follow is stopped.
func (s *session) pump(ctx context.Context, fl *follow, stream *core.Stream) {
	defer s.pumps.Done()
	defer s.unfollow(fl)
	defer fl.cancel()
	defer stream.Close()
	for {
		ev, err := stream.Next(ctx)
		if errors.Is(err, io.EOF) {
			s.segmentEnded(fl.runID)
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				s.out.send(ctx, fl.failed(err))
			}
			return
		}
		for _, fr := range fl.frames(&ev) {
			if !s.out.send(ctx, fr) {
				return
			}
		}
	}
}

func (s *session) segmentEnded(runID string) {
	s.mu.Lock()
	delete(s.foreground, runID)
	s.mu.Unlock()
}

func (s *session) unfollow(fl *follow) {
	s.mu.Lock()
	if s.follows[fl.runID] == fl {
		delete(s.follows, fl.runID)
	}
	if len(s.follows) == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
	s.mu.Unlock()
	close(fl.done)
}

// waitIdle waits until the socket follows no run, or ctx ends.
func (s *session) waitIdle(ctx context.Context) {
	s.mu.Lock()
	if len(s.follows) == 0 {
		s.mu.Unlock()
		return
	}
	if s.idle == nil {
		s.idle = make(chan struct{})
	}
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
	case <-ctx.Done():
	}
}

// end stops every pump (the socket's ctx has ended) and, when the client
// went away, hands the foreground runs whose segment was still going to
// the engine, which cancels them unless they are followed again within
// runs.disconnect_grace (core.Engine.Disconnected).
func (s *session) end(cancelForeground bool) {
	s.mu.Lock()
	for _, fl := range s.follows {
		fl.cancel()
	}
	s.mu.Unlock()
	s.pumps.Wait()
	if !cancelForeground {
		return
	}
	s.mu.Lock()
	runs := make([]string, 0, len(s.foreground))
	for id := range s.foreground {
		runs = append(runs, id)
	}
	s.foreground = map[string]bool{}
	s.mu.Unlock()
	for _, id := range runs {
		// Cancelled once the disconnect grace passes with nobody following
		// it: a client that reconnects and subscribes within it goes on.
		s.h.eng.Disconnected(id, core.DisconnectGrace)
	}
}
