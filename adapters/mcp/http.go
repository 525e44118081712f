package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// The Streamable HTTP endpoint. mcp-go's StreamableHTTPServer is a net/http
// handler; it runs behind fiber's adaptor (fasthttpadaptor) with:
//
//   - a DNS-rebinding guard (Host on loopback connections) and an Origin
//     check, since mcp-go's own guard needs what the adaptor does not give;
//   - the request's principal (put in fiber's user context by the
//     transport's authentication) as the base of the request context;
//   - an early answer to refusals: 401 (with the Bearer challenge) when the
//     caller is not authenticated, 403 (error="insufficient_scope" and the
//     scope needed) when a tools/call is not allowed, each with a JSON-RPC
//     error body. The tool handlers ask the policy again (stdio has no
//     HTTP layer);
//   - a response writer that notices a client that left (fasthttp cancels
//     nothing on disconnect: a failed write does) and keeps tool-call
//     streams alive with SSE comments.

// JSON-RPC error codes of refusals (server-defined range).
const (
	CodeRPCUnauthorized = -32001
	CodeRPCForbidden    = -32003
	// CodeRPCInvalidRequest is JSON-RPC's own "Invalid Request".
	CodeRPCInvalidRequest = -32600
)

// Register mounts the endpoint at path on app (POST, GET and DELETE).
func (s *Server) Register(app *fiber.App, path string) {
	app.All(path, s.Handle)
}

// rpcPeek is what the endpoint reads of a POSTed JSON-RPC message before
// mcp-go does.
type rpcPeek struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	} `json:"params"`
}

// Handle serves one request to the MCP endpoint.
func (s *Server) Handle(c *fiber.Ctx) error {
	if msg := s.checkHost(c); msg != "" {
		return writeRPCError(c, http.StatusForbidden, nil, CodeRPCForbidden, msg)
	}
	if msg := s.checkOrigin(c); msg != "" {
		return writeRPCError(c, http.StatusForbidden, nil, CodeRPCForbidden, msg)
	}
	var peek rpcPeek
	if c.Method() == http.MethodPost {
		if b := bytes.TrimLeft(c.Body(), " \t\r\n"); len(b) > 0 && b[0] == '[' {
			// MCP dropped JSON-RPC batching (2025-06-18); mcp-go would
			// answer a batch with "request body is not valid json".
			return writeRPCError(c, http.StatusBadRequest, nil, CodeRPCInvalidRequest,
				"JSON-RPC batches are not supported: send one JSON-RPC message per POST")
		}
		_ = json.Unmarshal(c.Body(), &peek)
	}
	ctx := c.UserContext()
	if err := s.authorize(ctx, s.methodOp(peek.Method), ""); err != nil {
		return s.deny(c, peek.ID, err)
	}
	isCall := peek.Method == string(mcpgo.MethodToolsCall)
	if isCall {
		if args, err := DecodeArgs(peek.Params.Name, peek.Params.Arguments); err == nil {
			if _, err := s.authorizeCall(ctx, peek.Params.Name, args); isDenial(err) {
				return s.deny(c, peek.ID, err)
			}
		}
	}
	// A tool call ends when its run does (at shutdown the engine ends runs
	// with a final event); other long-lived requests (the GET stream,
	// subscriptions/listen) are cut at shutdown.
	shutdown := c.Context().Done()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		sw := newStreamWriter(w, cancel, s.cfg.Heartbeat)
		defer sw.close()
		if !isCall {
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				select {
				case <-shutdown:
					cancel(errShutdown)
				case <-stop:
				}
			}()
		}
		s.http.ServeHTTP(sw, r.WithContext(context.WithValue(rctx, streamKey{}, sw)))
	})
	fasthttpadaptor.NewFastHTTPHandler(h)(c.Context())
	return nil
}

// deny answers a refusal: 401 with the Bearer challenge, or 403 naming the
// scope that is missing (RFC 6750 insufficient_scope, as MCP's
// authorization spec asks).
func (s *Server) deny(c *fiber.Ctx, id json.RawMessage, err error) error {
	msg := core.MessageOf(err)
	switch core.CodeOf(err) {
	case core.CodeUnauthorized:
		httptransport.AuthRejected(c.UserContext(), httptransport.AuthReason(err))
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="agentgate"`)
		return writeRPCError(c, http.StatusUnauthorized, id, CodeRPCUnauthorized, msg)
	case core.CodeForbidden:
		challenge := `Bearer realm="agentgate", error="insufficient_scope"`
		if d, ok := err.(*denial); ok && d.scope != "" {
			challenge += `, scope="` + d.scope + `"`
			msg += ": needs scope " + d.scope
		}
		c.Set(fiber.HeaderWWWAuthenticate, challenge)
		return writeRPCError(c, http.StatusForbidden, id, CodeRPCForbidden, msg)
	}
	s.log.Error("mcp: authorization failed", "err", err)
	return writeRPCError(c, http.StatusInternalServerError, id, -32603, "internal error")
}

// writeRPCError answers with a JSON-RPC error (id null when unknown).
func writeRPCError(c *fiber.Ctx, status int, id json.RawMessage, code int, msg string) error {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	b, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}{JSONRPC: "2.0", ID: id, Error: struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, msg}})
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}

// checkHost is the DNS-rebinding guard: a request that reached a loopback
// address must name a loopback host (or an allowed one), or a web page
// whose domain was rebound to 127.0.0.1 could drive the local gateway.
func (s *Server) checkHost(c *fiber.Ctx) string {
	la, ok := c.Context().LocalAddr().(*net.TCPAddr)
	if !ok || !la.IP.IsLoopback() {
		return ""
	}
	host := string(c.Request().Host())
	if isLoopbackHost(host) || matchHost(s.cfg.AllowedHosts, host) {
		return ""
	}
	return "Forbidden: host " + quote(host) + " is not allowed (DNS rebinding guard; allow it with mcp.allowed_hosts)"
}

// checkOrigin refuses a browser request from a foreign origin (MCP's
// Streamable HTTP transport: "servers MUST validate the Origin header").
// Requests without Origin (non-browser clients) pass.
func (s *Server) checkOrigin(c *fiber.Ctx) string {
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" {
		return ""
	}
	o := strings.TrimSuffix(strings.ToLower(origin), "/")
	for _, a := range s.cfg.AllowedOrigins {
		if a == "*" || strings.TrimSuffix(strings.ToLower(a), "/") == o {
			return ""
		}
	}
	if u, err := url.Parse(o); err == nil && (u.Scheme == "http" || u.Scheme == "https") && isLoopbackHost(u.Host) {
		return ""
	}
	return "Forbidden: origin " + quote(origin) + " is not allowed (allow it with mcp.allowed_origins)"
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// isLoopbackHost reports whether a host or host:port names this machine:
// localhost, *.localhost (RFC 6761) or a loopback IP.
func isLoopbackHost(hostport string) bool {
	host := hostOnly(hostport)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func hostOnly(hostport string) string {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	return strings.ToLower(strings.Trim(host, "[]"))
}

// matchHost reports whether host (host or host:port) is allowed: an entry
// matches the host with any port, or exactly host:port.
func matchHost(allowed []string, host string) bool {
	h := strings.ToLower(host)
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "*" || a == h || a == hostOnly(h) {
			return true
		}
	}
	return false
}

// streamKey carries the request's streamWriter to the tool handlers.
type streamKey struct{}

// streamResponse turns the call's HTTP response into an SSE stream now,
// with heartbeat comments, so that a client that leaves during a silent
// run is noticed (HTTP only; a no-op elsewhere). mcp-go then writes the
// result as the stream's last event.
func streamResponse(ctx context.Context) {
	sw, _ := ctx.Value(streamKey{}).(*streamWriter)
	if sw == nil {
		return
	}
	if up, ok := server.ClientSessionFromContext(ctx).(server.SessionWithStreamableHTTPConfig); ok {
		up.UpgradeToSSEWhenReceiveNotification()
		sw.startSSE()
	}
}

// streamWriter sits between mcp-go and the adaptor's response writer.
// Writes are serialized (mcp-go's notification forwarder, its final
// response and the heartbeat all write); a failed write means the client
// left and cancels the request's context with errClientGone. mcp-go's
// header changes go to a shadow map, copied when the status is written, so
// that startSSE (from a tool handler) never races them.
type streamWriter struct {
	w         http.ResponseWriter
	flusher   http.Flusher
	shadow    http.Header
	cancel    context.CancelCauseFunc
	heartbeat time.Duration

	mu      sync.Mutex
	started bool // status and headers sent
	sse     bool // startSSE made the response an SSE stream
	failed  bool
	hbStop  chan struct{}
	hbDone  chan struct{}
}

func newStreamWriter(w http.ResponseWriter, cancel context.CancelCauseFunc, heartbeat time.Duration) *streamWriter {
	f, _ := w.(http.Flusher)
	return &streamWriter{w: w, flusher: f, shadow: http.Header{}, cancel: cancel, heartbeat: heartbeat}
}

func (sw *streamWriter) Header() http.Header { return sw.shadow }

func (sw *streamWriter) WriteHeader(code int) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.writeHeaderLocked(code)
}

func (sw *streamWriter) writeHeaderLocked(code int) {
	if sw.started {
		return
	}
	sw.started = true
	h := sw.w.Header()
	for k, v := range sw.shadow {
		h[k] = append([]string(nil), v...)
	}
	sw.w.WriteHeader(code)
}

func (sw *streamWriter) Write(p []byte) (int, error) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.failed {
		return 0, errClientGone
	}
	sw.writeHeaderLocked(http.StatusOK)
	n, err := sw.w.Write(p)
	if err != nil {
		sw.failLocked()
	}
	return n, err
}

// Flush makes the writer an http.Flusher, which mcp-go needs to stream.
func (sw *streamWriter) Flush() {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.failed || sw.flusher == nil {
		return
	}
	sw.writeHeaderLocked(http.StatusOK)
	sw.flusher.Flush()
}

func (sw *streamWriter) failLocked() {
	if !sw.failed {
		sw.failed = true
		sw.cancel(errClientGone)
	}
}

// streaming reports whether the response is an SSE stream this writer
// started.
func (sw *streamWriter) streaming() bool {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.sse
}

// writeNotification writes one notification as an SSE event, in mcp-go's
// framing, and flushes it.
func (sw *streamWriter) writeNotification(n mcpgo.JSONRPCNotification) error {
	b, err := json.Marshal(n)
	if err != nil {
		return err
	}
	frame := make([]byte, 0, len(b)+32)
	frame = append(frame, "event: message\ndata: "...)
	frame = append(append(frame, b...), "\n\n"...)
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.failed {
		return errClientGone
	}
	if _, err := sw.w.Write(frame); err != nil {
		sw.failLocked()
		return err
	}
	sw.flusher.Flush()
	return nil
}

// startSSE answers 200 text/event-stream at once and starts the heartbeat.
func (sw *streamWriter) startSSE() {
	sw.mu.Lock()
	if sw.started || sw.flusher == nil {
		sw.mu.Unlock()
		return
	}
	sw.started, sw.sse = true, true
	h := sw.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	sw.w.WriteHeader(http.StatusOK)
	sw.flusher.Flush()
	stop, done := make(chan struct{}), make(chan struct{})
	sw.hbStop, sw.hbDone = stop, done
	sw.mu.Unlock()
	go sw.beat(stop, done)
}

func (sw *streamWriter) beat(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(sw.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			sw.mu.Lock()
			if !sw.failed {
				if _, err := sw.w.Write([]byte(": keepalive\n\n")); err != nil {
					sw.failLocked()
				} else {
					sw.flusher.Flush()
				}
			}
			sw.mu.Unlock()
		}
	}
}

// close stops the heartbeat (the request is over).
func (sw *streamWriter) close() {
	sw.mu.Lock()
	stop, done := sw.hbStop, sw.hbDone
	sw.hbStop = nil
	sw.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}
