package ws

import (
	"bytes"
	"context"
	"errors"
	"github.com/agentgate/agentgate/core/media"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// Path is where the WebSocket interface is served.
const Path = "/ws"

// Config configures the WebSocket interface. The zero value is usable.
type Config struct {
	// Settings are the operator's settings (the ws: block of the config
	// file): origins, frame and queue bounds, timeouts. Disabled is the
	// gateway's to read (Interface.Mount); Register mounts regardless.
	Settings
	// Policy is asked about every action (default: a new one); Register
	// declares Operations in it.
	Policy *auth.Policy
	// Auth checks the token of the authenticate action; nil means auth
	// mode none (everyone is an anonymous admin).
	Auth *auth.Authenticator
	// Media stores the media a start carries (nil: a start with media is
	// refused).
	Media *media.Resolver
	// ActionTimeout bounds the engine calls of one action (default 30 s).
	ActionTimeout time.Duration
	// ReadBufferSize and WriteBufferSize size the socket's I/O buffers
	// (default 512 and 4096 bytes); write buffers are pooled, so an idle
	// socket holds none.
	ReadBufferSize, WriteBufferSize int
	Logger                          *slog.Logger
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxFrameBytes, 1<<20)
	def(&c.QueueSize, 256)
	def(&c.MaxRuns, 64)
	def(&c.ReadBufferSize, 512)
	def(&c.WriteBufferSize, 4096)
	defDur(&c.PingInterval, 30*time.Second)
	defDur(&c.PongTimeout, 15*time.Second)
	defDur(&c.WriteTimeout, 10*time.Second)
	defDur(&c.SlowConsumerTimeout, 5*time.Second)
	defDur(&c.ActionTimeout, 30*time.Second)
	if c.Policy == nil {
		c.Policy = auth.NewPolicy()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Handler serves /ws. It is safe for concurrent use.
type Handler struct {
	eng    *core.Engine
	policy *auth.Policy
	authn  *auth.Authenticator
	cfg    Config
	logger *slog.Logger
	pool   sync.Pool // write buffers shared by every socket

	// mu guards sockets and draining.
	mu       sync.Mutex
	sockets  map[*socket]struct{}
	draining bool
}

// Register mounts /ws on app and returns the handler (for Shutdown).
func Register(app *fiber.App, eng *core.Engine, cfg Config) *Handler {
	cfg = cfg.withDefaults()
	h := &Handler{eng: eng, policy: cfg.Policy, authn: cfg.Auth, cfg: cfg, logger: cfg.Logger, sockets: map[*socket]struct{}{}}
	// The table declares the entries; the actions the dispatcher knows
	// are what is served (auth.Policy.CheckCoverage compares them).
	h.policy.Declare(Operations()...)
	h.policy.Served(OperationIDs()...)
	wsc := websocket.Config{
		ReadBufferSize:  cfg.ReadBufferSize,
		WriteBufferSize: cfg.WriteBufferSize,
		WriteBufferPool: &h.pool,
		RecoverHandler:  h.recoverPanic,
	}
	app.Get(Path, h.upgrade, websocket.New(func(c *websocket.Conn) { h.serve(c, false) }, wsc))
	app.Get(AgnoPath, h.upgrade, websocket.New(func(c *websocket.Conn) { h.serve(c, true) }, wsc))
	return h
}

// Connections returns the number of open sockets.
func (h *Handler) Connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sockets)
}

func (h *Handler) isDraining() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.draining
}

const localsPrincipal = "agentgate.ws.principal"

// localsTrace holds the upgrade request's W3C trace context: the runs the
// socket starts continue the caller's trace.
const localsTrace = "agentgate.ws.trace"

// localsRequestCtx is the upgrade request's context (its auth failure
// counter), in the socket's Locals.
const localsRequestCtx = "agentgate.ws.request_ctx"

// upgrade checks the handshake before the upgrade: a WebSocket request,
// an allowed origin, credentials that (if sent) were accepted.
func (h *Handler) upgrade(c *fiber.Ctx) error {
	if !websocket.IsWebSocketUpgrade(c) {
		return httptransport.WriteError(c, fiber.StatusUpgradeRequired,
			httptransport.ErrorBody{Detail: "this endpoint speaks WebSocket: send a GET with Upgrade: websocket"})
	}
	if !h.originAllowed(c.Get(fiber.HeaderOrigin), string(c.Request().Host())) {
		return httptransport.WriteError(c, fiber.StatusForbidden, httptransport.ErrorBody{Detail: "origin not allowed"})
	}
	if h.isDraining() {
		return httptransport.WriteError(c, fiber.StatusServiceUnavailable, httptransport.ErrorBody{Detail: "server is shutting down"})
	}
	ctx := c.UserContext()
	if ae := httptransport.AuthError(ctx); ae != nil {
		return httptransport.Unauthorized(c, ae)
	}
	if p, ok := auth.FromContext(ctx); ok {
		c.Locals(localsPrincipal, p)
	}
	if tc := core.TraceCarrierOf(func(k string) string { return c.Get(k) }); tc != nil {
		c.Locals(localsTrace, tc)
	}
	c.Locals(localsRequestCtx, ctx)
	return c.Next()
}

// originAllowed: no Origin (not a browser), the same origin, or a listed one.
func (h *Handler) originAllowed(origin, host string) bool {
	if origin == "" {
		return true
	}
	for _, o := range h.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

func (h *Handler) recoverPanic(c *websocket.Conn) {
	if r := recover(); r != nil {
		h.logger.Error("ws: panic in a socket handler", "panic", r)
	}
}

// Shutdown stops accepting sockets and actions, lets every socket's live
// runs deliver their last frames until ctx ends, then closes every socket
// with 1001. It returns when all sockets are closed or ctx has ended.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.draining = true
	socks := make([]*socket, 0, len(h.sockets))
	for s := range h.sockets {
		socks = append(socks, s)
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.sess.waitIdle(ctx)
			s.close(closeReason{kind: closedByShutdown, code: websocket.CloseGoingAway, text: "server shutting down", flush: true})
			select {
			case <-s.ended:
			case <-ctx.Done():
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close codes the server sends.
const (
	closePolicyViolation = websocket.ClosePolicyViolation // 1008: too many failed authentications, an expired or revoked credential
	closeTryAgainLater   = websocket.CloseTryAgainLater   // 1013: slow consumer
)

// closeKind says who ended a socket, which decides what happens to its
// foreground runs.
type closeKind int

const (
	closedByClient   closeKind = iota + 1 // close frame, network error, missed pongs, frame too large
	closedByPolicy                        // the server refused the client's behaviour (1008)
	closedBySlowness                      // slow consumer (1013): runs are detached
	closedByShutdown                      // the server is stopping (1001): the engine ends the runs
)

type closeReason struct {
	kind closeKind
	code int // close code to send; 0: none (the client already went away)
	text string
	// flush writes the frames already queued before the close frame (the
	// last runs' frames at shutdown; the error frame that says why).
	flush bool
}

// cancelsForeground: a client that went away (or was thrown out for
// misbehaving) takes its foreground runs with it; a socket the server
// closed for its own reasons leaves them to finish and be resumed.
func (r closeReason) cancelsForeground() bool {
	return r.kind == closedByClient || r.kind == closedByPolicy
}

// socket is one WebSocket connection: the reader (the handler's goroutine),
// one writer goroutine fed by a bounded queue, and the session.
type socket struct {
	h    *Handler
	conn *websocket.Conn
	sess *session
	q    frameQueue

	pinger atomic.Pointer[time.Timer] // arms the next ping (no goroutine while idle)
	// expiry closes the socket when its principal's credential expires;
	// set by the reader goroutine only.
	expiry *time.Timer

	closeOnce sync.Once
	reason    closeReason   // set once, before closing is closed
	closing   chan struct{} // closed by close
	readDone  chan struct{} // closed when the reader has stopped
	writeDone chan struct{} // closed when the writer has stopped
	ended     chan struct{} // closed when the handler is done with the socket
}

// serve runs one socket; agno: in agno's workflow protocol (AgnoPath).
func (h *Handler) serve(c *websocket.Conn, agno bool) {
	p, _ := c.Locals(localsPrincipal).(*auth.Principal)
	ctx, cancel := context.WithCancel(context.Background())
	if rc, ok := c.Locals(localsRequestCtx).(context.Context); ok {
		ctx = httptransport.WithAuthCount(ctx, rc) // its auth messages count on the socket's request
	}
	s := &socket{h: h, conn: c, closing: make(chan struct{}),
		readDone: make(chan struct{}), writeDone: make(chan struct{}), ended: make(chan struct{})}
	s.q.max = h.cfg.QueueSize
	s.sess = newSession(h, s, p)
	s.sess.trace, _ = c.Locals(localsTrace).(map[string]string)
	s.sess.agno = agno
	s.sess.expireAt = s.expireAt
	defer close(s.ended)
	defer cancel()
	defer s.expireAt(time.Time{})

	h.mu.Lock()
	if h.draining {
		h.mu.Unlock()
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
		return
	}
	h.sockets[s] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.sockets, s)
		h.mu.Unlock()
	}()

	pinger := time.AfterFunc(time.Duration(math.MaxInt64), s.pingTick)
	s.pinger.Store(pinger)
	pinger.Reset(h.cfg.PingInterval)
	defer pinger.Stop()
	if agno {
		s.send(ctx, renderAgnoConnected(s.sess.authRequired()))
	} else {
		s.send(ctx, RenderConnected(s.sess.authRequired(), h.cfg.MaxFrameBytes))
	}
	s.expireAt(s.sess.principal.ExpiresAt)
	reason := s.readLoop(ctx)
	s.close(reason)
	close(s.readDone)
	if reason.kind == closedByClient {
		// Nobody is reading: unblock a write stuck on a dead peer.
		s.abort()
	}
	cancel()
	s.sess.end(s.reason.cancelsForeground())
	<-s.writeDone
	_ = c.Close()
}

// send implements outbox.
func (s *socket) send(ctx context.Context, frame []byte) bool {
	switch s.q.push(ctx, s.closing, frame, s.h.cfg.SlowConsumerTimeout, s.startWriter) {
	case pushed:
		return true
	case pushTimedOut:
		s.close(closeReason{kind: closedBySlowness, code: closeTryAgainLater, text: "slow consumer"})
	}
	return false
}

func (s *socket) startWriter() { go s.writeLoop() }

// expireAt arms the close of the socket at at (1008 "token expired"),
// replacing the previous deadline; zero disarms it.
func (s *socket) expireAt(at time.Time) {
	if s.expiry != nil {
		s.expiry.Stop()
		s.expiry = nil
	}
	if at.IsZero() {
		return
	}
	s.expiry = time.AfterFunc(time.Until(at), func() {
		s.close(closeReason{kind: closedByPolicy, code: closePolicyViolation, text: "token expired"})
	})
}

// close starts closing the socket with reason; later calls do nothing.
// The writer (started if none runs) writes what closing needs.
func (s *socket) close(r closeReason) {
	s.closeOnce.Do(func() {
		s.reason = r
		close(s.closing)
		if s.q.restart() {
			s.startWriter()
		}
	})
}

func (s *socket) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// readLoop reads client frames until the socket ends and says why.
func (s *socket) readLoop(ctx context.Context) closeReason {
	c, cfg := s.conn, s.h.cfg
	c.SetReadLimit(int64(cfg.MaxFrameBytes) * 4)
	wait := cfg.PingInterval + cfg.PongTimeout
	extend := func() { _ = c.SetReadDeadline(time.Now().Add(wait)) }
	extend()
	c.SetPongHandler(func(string) error { extend(); return nil })
	c.SetPingHandler(func(data string) error {
		extend()
		err := c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(cfg.WriteTimeout))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		return err
	})
	var buf bytes.Buffer
	for {
		mt, r, err := c.NextReader()
		if err != nil {
			if s.isClosing() {
				return s.reason
			}
			return closeReason{kind: closedByClient}
		}
		extend()
		if s.isClosing() {
			// Waiting for the client's close frame: take no more actions.
			_, _ = io.Copy(io.Discard, r)
			continue
		}
		if mt != websocket.TextMessage {
			if _, err := io.Copy(io.Discard, r); err != nil {
				continue // the next NextReader reports it
			}
			s.sess.reply(ctx, s.sess.errorFrame(core.Errorf(core.CodeInvalid, "binary frames are not supported: send JSON text frames")))
			continue
		}
		buf.Reset()
		n, err := io.Copy(&buf, io.LimitReader(r, int64(cfg.MaxFrameBytes)+1))
		if err != nil {
			continue
		}
		if n > int64(cfg.MaxFrameBytes) {
			if _, err := io.Copy(io.Discard, r); err != nil {
				continue
			}
			s.sess.reply(ctx, s.sess.errorFrame(core.Errorf(core.CodeInvalid, "frame exceeds %d bytes", cfg.MaxFrameBytes)))
			continue
		}
		s.sess.handle(ctx, buf.Bytes())
		if buf.Cap() > 64<<10 {
			buf = bytes.Buffer{} // do not keep a large frame's buffer on an idle socket
		}
		if cr := s.sess.closeWith; cr != nil {
			s.close(*cr)
		}
		extend()
	}
}

// writeLoop is the socket's only writer: queued frames, pings and the
// close frame. It runs only while there is something to write (an idle
// socket has no writer goroutine); the queue's running flag makes sure at
// most one runs at a time.
func (s *socket) writeLoop() {
	for {
		if s.isClosing() {
			s.finish()
			close(s.writeDone) // running stays set: no writer starts again
			return
		}
		frames, ping, ok := s.q.work()
		if !ok {
			// Stopped for lack of work; a close that raced with stopping
			// did not start a writer if it saw this one still running.
			if s.isClosing() && s.q.restart() {
				continue
			}
			return
		}
		if ping {
			if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.h.cfg.WriteTimeout)); err != nil {
				s.writeFailed(err)
				continue
			}
		}
		// One deadline per batch (at most QueueSize frames): a client
		// that does not take a batch within WriteTimeout is stuck.
		_ = s.conn.SetWriteDeadline(time.Now().Add(s.h.cfg.WriteTimeout))
		for _, f := range frames {
			if s.isClosing() && !s.reason.flush {
				break
			}
			if err := s.write(f); err != nil {
				s.writeFailed(err)
				break
			}
		}
	}
}

// pingTick asks the writer for a ping and arms the next one.
func (s *socket) pingTick() {
	if s.isClosing() {
		return
	}
	if s.q.pingDue() {
		go s.writeLoop()
	}
	s.pinger.Load().Reset(s.h.cfg.PingInterval)
}

func (s *socket) write(frame []byte) error {
	return s.conn.WriteMessage(websocket.TextMessage, frame)
}

// writeFailed ends a socket whose write failed: a timeout means the client
// stopped reading (a slow consumer: its runs are detached), anything else
// that it went away.
func (s *socket) writeFailed(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		s.close(closeReason{kind: closedBySlowness})
	} else {
		s.close(closeReason{kind: closedByClient})
	}
	s.abort()
}

// abort interrupts any read or write blocked on the connection (closing a
// hijacked fasthttp connection is left to fasthttp, after serve returns).
func (s *socket) abort() { _ = s.conn.NetConn().SetDeadline(time.Unix(1, 0)) }

// finish writes what closing needs: the frames still queued when the
// reason says so (shutdown, the error frame of a refused credential), then
// the close frame (unless the client went away); it waits a moment for
// the client's answering close frame, then closes the connection.
func (s *socket) finish() {
	r := s.reason
	if r.flush {
		_ = s.conn.SetWriteDeadline(time.Now().Add(s.h.cfg.WriteTimeout))
		for _, f := range s.q.take() {
			if s.write(f) != nil {
				break
			}
		}
	}
	if r.code != 0 {
		_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(r.code, r.text), time.Now().Add(s.h.cfg.WriteTimeout))
		select {
		case <-s.readDone:
		case <-time.After(2 * time.Second):
		}
	}
	s.abort()
}

// frameQueue is a socket's bounded queue of frames for its writer. It
// holds no memory while empty.
type frameQueue struct {
	// mu guards every field below.
	mu     sync.Mutex
	frames [][]byte
	ping   bool // a ping is due
	// running is set while a writer goroutine runs (or will run).
	running bool
	// space, when not nil, is closed when the writer takes the frames
	// (producers waiting for room wait on it).
	space chan struct{}
	max   int
}

type pushResult int

const (
	pushed pushResult = iota
	pushClosed
	pushTimedOut
)

// push adds frame, waiting at most slow for room while the queue is full.
// start is called (outside the lock) when a writer must be started.
func (q *frameQueue) push(ctx context.Context, closing <-chan struct{}, frame []byte, slow time.Duration, start func()) pushResult {
	var timer *time.Timer
	for {
		select {
		case <-closing:
			return pushClosed
		default:
		}
		q.mu.Lock()
		if len(q.frames) < q.max {
			q.frames = append(q.frames, frame)
			wake := q.startLocked()
			q.mu.Unlock()
			if wake {
				start()
			}
			return pushed
		}
		if q.space == nil {
			q.space = make(chan struct{})
		}
		space := q.space
		q.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(slow)
			defer timer.Stop()
		}
		select {
		case <-space:
		case <-ctx.Done():
			return pushClosed
		case <-closing:
			return pushClosed
		case <-timer.C:
			return pushTimedOut
		}
	}
}

// startLocked marks a writer as running; true when the caller must start
// it.
func (q *frameQueue) startLocked() bool {
	if q.running {
		return false
	}
	q.running = true
	return true
}

// pingDue records a due ping; true when the caller must start a writer.
func (q *frameQueue) pingDue() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ping = true
	return q.startLocked()
}

// restart marks a writer as running again; true when the caller is it.
func (q *frameQueue) restart() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.startLocked()
}

// work takes every queued frame and the due ping, waking waiting
// producers. With nothing to do it marks the writer stopped and returns
// ok false.
func (q *frameQueue) work() (frames [][]byte, ping, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	frames, ping = q.frames, q.ping
	q.frames, q.ping = nil, false
	if q.space != nil {
		close(q.space)
		q.space = nil
	}
	if len(frames) == 0 && !ping {
		q.running = false
		return nil, false, false
	}
	return frames, ping, true
}

// take removes and returns every queued frame (the final flush); the
// writer stays marked running.
func (q *frameQueue) take() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	frames := q.frames
	q.frames = nil
	if q.space != nil {
		close(q.space)
		q.space = nil
	}
	return frames
}
