package mcptool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/agentgate/agentgate/core/tool"
)

// conn is one connection to the server: a stdio process or an HTTP
// session, with its mcp-go client.
type conn struct {
	client *client.Client
	stderr *tail // the stdio process's latest stderr (nil for HTTP)
	// ctx ends when the connection is closed; its goroutines stop then.
	ctx    context.Context
	cancel context.CancelFunc
	// listen is set on a 2026-07-28 (stateless) connection to a server
	// that announces tool list changes: they arrive on a
	// subscriptions/listen stream, which the source keeps open.
	listen bool
	// relist is signalled when the tools should be listed again.
	relist chan struct{}
	// acks counts the subscriptions/listen acknowledgements.
	acks atomic.Int32

	closeOnce sync.Once
	closeErr  error
}

// connect opens a connection, initializes it and lists the tools. Errors
// name the server.
func (s *Source) connect(ctx context.Context) (*conn, []*tool.Tool, error) {
	for {
		c, err := s.open()
		if err != nil {
			return nil, nil, err
		}
		req := mcp.InitializeRequest{}
		req.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
		req.Params.ClientInfo = mcp.Implementation{Name: "agentgate", Version: s.cfg.ClientVersion}
		res, err := c.client.Initialize(ctx, req)
		if err != nil {
			return nil, nil, s.connectError(ctx, c, "initialize", err)
		}
		modern := mcp.IsModernProtocol(res.ProtocolVersion)
		listChanged := res.Capabilities.Tools != nil && res.Capabilities.Tools.ListChanged
		if s.cfg.URL != "" && !modern && listChanged && !s.httpLegacy.Load() {
			// A server from before 2026-07-28 sends list changes on the
			// standalone GET stream, which only a transport opened for it
			// keeps, and which rules out the newer revision: reopen so.
			s.httpLegacy.Store(true)
			_ = c.close()
			continue
		}
		c.listen = modern && listChanged
		tools, err := s.list(ctx, c)
		if err != nil {
			return nil, nil, s.connectError(ctx, c, "list tools", err)
		}
		return c, tools, nil
	}
}

// open creates the client and starts its transport (for stdio, the
// process).
func (s *Source) open() (*conn, error) {
	ctx, cancel := context.WithCancel(s.ctx)
	c := &conn{ctx: ctx, cancel: cancel, relist: make(chan struct{}, 1)}
	if s.cfg.Command != "" {
		c.stderr = &tail{}
		tr := transport.NewStdioWithOptions(s.cfg.Command, nil, s.cfg.Args,
			transport.WithCommandFunc(s.command),
			transport.WithCommandStderrWriter(c.stderr),
			transport.WithCommandLogger(s.libLog))
		c.client = client.NewClient(tr)
	} else {
		opts := []transport.StreamableHTTPCOption{
			transport.WithHTTPHeaders(s.cfg.Headers),
			transport.WithHTTPHeaderFunc(traceHeaders),
			transport.WithHTTPBasicClient(&http.Client{Transport: s.httpTransport}),
			transport.WithHTTPLogger(s.libLog),
		}
		if s.httpLegacy.Load() {
			opts = append(opts, transport.WithContinuousListening())
		}
		cl, err := client.NewStreamableHttpClient(s.cfg.URL, opts...)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("mcp server %s: %w", s.cfg.Name, err)
		}
		c.client = cl
	}
	c.client.OnNotification(c.notified)
	// The transport keeps Start's context for its lifetime (a stdio
	// process's incoming requests, the HTTP GET stream).
	if err := c.client.Start(ctx); err != nil {
		cancel()
		var ee *exec.Error
		if errors.As(err, &ee) {
			err = ee.Err
		}
		if s.cfg.Command != "" {
			return nil, fmt.Errorf("mcp server %s: start %q: %w", s.cfg.Name, s.cfg.Command, err)
		}
		return nil, fmt.Errorf("mcp server %s: start: %w", s.cfg.Name, err)
	}
	return c, nil
}

// command makes the stdio server's command: the gateway's environment
// plus Env, in Dir. It is not bound to a context: the process lives until
// the connection is closed.
func (s *Source) command(_ context.Context, name string, _ []string, args []string) (*exec.Cmd, error) {
	cmd := exec.Command(name, args...)
	env := os.Environ()
	keys := make([]string, 0, len(s.cfg.Env))
	for k := range s.cfg.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+s.cfg.Env[k])
	}
	cmd.Env = env
	cmd.Dir = s.cfg.Dir
	return cmd, nil
}

// connectError closes c and describes why connecting failed at stage.
func (s *Source) connectError(ctx context.Context, c *conn, stage string, err error) error {
	_ = c.close()
	var ue *url.Error
	switch {
	case ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("no answer within %s", seconds(s.cfg.ConnectTimeout))
	case errors.As(err, &ue):
		err = ue // Post "http://...": dial tcp ...: connection refused
	}
	if t := c.stderr.String(); t != "" {
		return fmt.Errorf("mcp server %s: %s: %w (stderr: %s)", s.cfg.Name, stage, err, t)
	}
	return fmt.Errorf("mcp server %s: %s: %w", s.cfg.Name, stage, err)
}

// close ends the connection: its goroutines, its client and, for stdio,
// the process (closing its stdin, then signalling it). A process's exit
// status is not an error.
func (c *conn) close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		err := c.client.Close()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			c.closeErr = err
		}
	})
	return c.closeErr
}

// notified handles the server's notifications. It runs on the transport's
// reading goroutine, so it must not wait for the server: it only signals
// the connection's watcher.
func (c *conn) notified(n mcp.JSONRPCNotification) {
	switch n.Method {
	case mcp.MethodNotificationToolsListChanged:
		c.signalRelist()
	case mcp.MethodNotificationSubscriptionsAcknowledged:
		// A listen stream opened: changes since the last listing (made
		// before it opened, or while it was closed) were not announced.
		c.acks.Add(1)
		c.signalRelist()
	}
}

func (c *conn) signalRelist() {
	select {
	case c.relist <- struct{}{}:
	default: // a listing is due already
	}
}

// listen keeps a subscriptions/listen stream for tool list changes open on
// a stateless connection, opening it again (with backoff) when it ends.
// When the transport is gone (a stdio process exited) it stops: the next
// call notices and reconnects. It stops too if the server has no
// subscriptions/listen.
func (s *Source) listen(c *conn) {
	defer s.wg.Done()
	delay := minBackoff
	for {
		acks := c.acks.Load()
		err := c.client.Listen(c.ctx, mcp.SubscriptionFilter{ToolsListChanged: true})
		if c.ctx.Err() != nil || errors.Is(err, transport.ErrTransportClosed) {
			return
		}
		if errors.Is(err, mcp.ErrMethodNotFound) {
			s.log.Debug("mcp server offers no tool list stream", "err", err)
			return
		}
		if c.acks.Load() != acks {
			delay = minBackoff // it was open
		}
		s.log.Debug("mcp server tool list stream ended", "err", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return
		}
		delay = min(2*delay, maxBackoff)
	}
}

// connectionLost tells whether a call failed because the connection broke
// (rather than the server answering with an error).
func connectionLost(err error) bool {
	var (
		ue *url.Error
		oe *net.OpError
	)
	switch {
	case errors.Is(err, transport.ErrTransportClosed), // stdio process gone
		errors.Is(err, transport.ErrSessionTerminated), // HTTP 404: session unknown
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, net.ErrClosed),
		errors.As(err, &ue), errors.As(err, &oe):
		return true
	}
	// A response stream that ended before the response.
	return strings.Contains(err.Error(), "unexpected nil response")
}

// tail keeps the start and the end of a stdio server's stderr, for
// errors and logs: a server failing to start says why first, one that
// crashes says why last.
type tail struct {
	mu      sync.Mutex
	head    []byte
	end     []byte
	dropped bool
}

const tailKeep = 512

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(t.head) < tailKeep {
		k := min(tailKeep-len(t.head), len(p))
		t.head = append(t.head, p[:k]...)
		p = p[k:]
	}
	t.end = append(t.end, p...)
	if len(t.end) > tailKeep {
		t.dropped = true
		t.end = append(t.end[:0:0], t.end[len(t.end)-tailKeep:]...)
	}
	return n, nil
}

// String returns the kept stderr, trimmed ("" for a nil tail).
func (t *tail) String() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	sep := ""
	if t.dropped {
		sep = " … "
	}
	return strings.TrimSpace(string(t.head) + sep + string(t.end))
}

// quiet demotes mcp-go's own log records to debug: they are about
// conditions the source handles and logs itself (lost connections,
// reconnections).
type quiet struct{ slog.Handler }

func (q quiet) Enabled(ctx context.Context, _ slog.Level) bool {
	return q.Handler.Enabled(ctx, slog.LevelDebug)
}

func (q quiet) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return q.Handler.Handle(ctx, r)
}

func (q quiet) WithAttrs(attrs []slog.Attr) slog.Handler { return quiet{q.Handler.WithAttrs(attrs)} }

func (q quiet) WithGroup(name string) slog.Handler { return quiet{q.Handler.WithGroup(name)} }
