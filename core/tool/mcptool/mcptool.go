// Package mcptool offers the tools of an external MCP server (over stdio
// or Streamable HTTP) to agents, on mcp-go's client.
//
// A Source connects once in Start (starting the stdio process or opening
// the HTTP session, initializing and listing the tools) and then keeps the
// list current: when the server announces notifications/tools/list_changed
// the tools are listed again, and Tools returns the new list.
//
// When a call fails because the connection broke (the stdio process
// exited, the HTTP server refused the connection, closed it or forgot the
// session), the call returns an error ("mcp server NAME: connection lost:
// ...") and the source reconnects in the background, retrying with backoff
// (100ms doubling to 5s). A call made while the source is disconnected
// waits, within its own timeout, for one reconnection attempt (shared with
// any other call waiting) before failing. Tools keeps returning the last
// list meanwhile. A stdio process that dies is noticed by the next call
// (which fails, promptly even if it was in flight), not before.
//
// The client asks for the newest protocol revision mcp-go speaks
// (2026-07-28, stateless) and falls back to the initialize handshake for
// older servers. On a stateless connection, tool list changes arrive on a
// subscriptions/listen stream that the source keeps open (and lists the
// tools again whenever it reopens); an older HTTP server that announces
// them is reached with the standalone GET stream.
package mcptool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go.opentelemetry.io/otel/propagation"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/agentgate/agentgate/core/tool"
)

// Config configures one MCP server connection. Exactly one of Command
// (stdio) and URL (Streamable HTTP) is set.
type Config struct {
	// Name names the server (config key; logs and errors). It defaults to
	// the command's base name or the URL's host.
	Name string
	// Command, Args, Env and Dir start a stdio server. Env adds to the
	// gateway's environment.
	Command string
	Args    []string
	Env     map[string]string
	Dir     string
	// URL is a Streamable HTTP endpoint; Headers are sent on every request.
	URL     string
	Headers map[string]string
	// Prefix is prepended to every tool name the server lists.
	Prefix string
	// CallTimeout bounds one tool call (default 60s).
	CallTimeout time.Duration
	// ConnectTimeout bounds starting, initializing and listing (default 30s).
	ConnectTimeout time.Duration
	// Logger receives reconnections and tool list changes at info (nil:
	// slog.Default()).
	Logger *slog.Logger
	// ClientVersion is the version the gateway gives in its client info
	// (the name is "agentgate"; default "dev").
	ClientVersion string
	// MaxResultBytes limits the text of a tool result given to the model
	// (default 1 MiB); a larger result fails the call.
	MaxResultBytes int
}

const (
	defaultCallTimeout    = 60 * time.Second
	defaultConnectTimeout = 30 * time.Second
	defaultMaxResult      = 1 << 20
	minBackoff            = 100 * time.Millisecond
	maxBackoff            = 5 * time.Second
)

// validName is what a tool name offered to models must look like.
var validName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

var validPrefix = regexp.MustCompile(`^[a-zA-Z0-9_-]{0,63}$`)

// errCallTimeout is the cause of a call's context ending at CallTimeout.
var errCallTimeout = errors.New("mcp tool call timed out")

// Source is a connected MCP server's tools. It implements tool.Source.
type Source struct {
	cfg Config
	log *slog.Logger
	// libLog is log for mcp-go's transports, at debug.
	libLog *slog.Logger
	// httpTransport is shared by the HTTP connections (nil for stdio), so
	// that Close can release its idle connections.
	httpTransport *http.Transport
	// httpLegacy is set once the server turned out to speak only a protocol
	// revision from before 2026-07-28 and announces tool list changes: its
	// connections then keep the standalone GET stream open.
	httpLegacy atomic.Bool

	// ctx ends when the source is closed; every connection's context and
	// every background goroutine derive from it.
	ctx    context.Context
	cancel context.CancelFunc
	// wg counts the background goroutines. Add is only called with mu held
	// and closed unset, so that Close's Wait never races with it.
	wg sync.WaitGroup

	tools atomic.Pointer[[]*tool.Tool]

	mu       sync.Mutex
	conn     *conn    // nil while disconnected
	attempt  *attempt // the connection attempt in flight
	retrying bool     // the background reconnection loop runs
	closed   bool

	closeOnce sync.Once
	closeErr  error
}

// attempt is one connection attempt, shared by whoever waits for it.
type attempt struct {
	done chan struct{}
	conn *conn // set when it succeeded, before done is closed
	err  error
}

// Start connects to the server, initializes the session and lists its
// tools, within ConnectTimeout. It fails, with an error naming the server,
// when the server cannot be started or reached. ctx bounds only the start:
// the source lives until Close.
func Start(ctx context.Context, cfg Config) (*Source, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg, log: cfg.Logger.With("mcp_server", cfg.Name)}
	s.libLog = slog.New(quiet{s.log.Handler()})
	if cfg.URL != "" {
		s.httpTransport = http.DefaultTransport.(*http.Transport).Clone()
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	cctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	c, tools, err := s.connect(cctx)
	if err != nil {
		s.cancel()
		if s.httpTransport != nil {
			s.httpTransport.CloseIdleConnections()
		}
		return nil, err
	}
	s.mu.Lock()
	s.install(c, tools)
	s.mu.Unlock()
	s.log.Info("mcp server connected", "protocol", c.client.ProtocolVersion(), "tools", len(tools))
	return s, nil
}

func (cfg *Config) normalize() error {
	if cfg.Name == "" {
		if cfg.Command != "" {
			cfg.Name = filepath.Base(cfg.Command)
		} else if u, err := url.Parse(cfg.URL); err == nil && u.Host != "" {
			cfg.Name = u.Host
		} else {
			cfg.Name = "mcp"
		}
	}
	switch {
	case cfg.Command != "" && cfg.URL != "":
		return fmt.Errorf("mcp server %s: set either a command (stdio) or a url (Streamable HTTP), not both", cfg.Name)
	case cfg.Command == "" && cfg.URL == "":
		return fmt.Errorf("mcp server %s: a command (stdio) or a url (Streamable HTTP) is required", cfg.Name)
	case cfg.URL != "":
		u, err := url.Parse(cfg.URL)
		if err != nil {
			return fmt.Errorf("mcp server %s: invalid url: %w", cfg.Name, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("mcp server %s: invalid url %q: want http(s)://host/path", cfg.Name, cfg.URL)
		}
	}
	if !validPrefix.MatchString(cfg.Prefix) {
		return fmt.Errorf("mcp server %s: invalid tool prefix %q: letters, digits, _ and - only", cfg.Name, cfg.Prefix)
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = defaultCallTimeout
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ClientVersion == "" {
		cfg.ClientVersion = "dev"
	}
	if cfg.MaxResultBytes <= 0 {
		cfg.MaxResultBytes = defaultMaxResult
	}
	return nil
}

// Name implements tool.Source.
func (s *Source) Name() string { return s.cfg.Name }

// Tools implements tool.Source: the tools as last listed, named Prefix +
// the server's name. The slice is the caller's; the tools are shared and
// must not be modified (copy one to set its Flags). A tool's Call works
// across reconnections.
func (s *Source) Tools() []*tool.Tool {
	if p := s.tools.Load(); p != nil {
		return slices.Clone(*p)
	}
	return nil
}

// Close implements tool.Source: it stops the background work, closes the
// connection (ending a stdio server's process) and waits for all of it.
// Calls made after Close fail. Close is idempotent.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		c := s.conn
		s.conn = nil
		s.mu.Unlock()
		s.cancel()
		if c != nil {
			s.closeErr = c.close()
		}
		s.wg.Wait()
		if s.httpTransport != nil {
			s.httpTransport.CloseIdleConnections()
		}
		s.log.Debug("mcp server closed")
	})
	return s.closeErr
}

func (s *Source) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Source) errClosed() error {
	return fmt.Errorf("mcp server %s: closed", s.cfg.Name)
}

// install makes c the current connection, with its tools. mu is held.
func (s *Source) install(c *conn, tools []*tool.Tool) {
	s.conn = c
	s.setTools(tools)
	s.wg.Add(1)
	go s.watch(c)
	if c.listen {
		s.wg.Add(1)
		go s.listen(c)
	}
}

// setTools stores a new list, logging a change of names.
func (s *Source) setTools(tools []*tool.Tool) {
	old := s.tools.Swap(&tools)
	if old == nil {
		return
	}
	before, after := toolNames(*old), toolNames(tools)
	if !slices.Equal(before, after) {
		s.log.Info("mcp server tools changed", "tools", after, "before", before)
	}
}

func toolNames(tools []*tool.Tool) []string {
	names := make([]string, len(tools))
	for i, t := range tools {
		names[i] = t.Name
	}
	slices.Sort(names)
	return names
}

// current returns the connection, or waits (within ctx) for one
// connection attempt: the one in flight, or a new one.
func (s *Source) current(ctx context.Context) (*conn, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, s.errClosed()
	}
	if c := s.conn; c != nil {
		s.mu.Unlock()
		return c, nil
	}
	a := s.dial()
	s.mu.Unlock()
	select {
	case <-a.done:
		return a.conn, a.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dial returns the connection attempt in flight, starting one if there is
// none. mu is held.
func (s *Source) dial() *attempt {
	if s.attempt != nil {
		return s.attempt
	}
	a := &attempt{done: make(chan struct{})}
	switch {
	case s.closed:
		a.err = s.errClosed()
		close(a.done)
		return a
	case s.conn != nil:
		a.conn = s.conn
		close(a.done)
		return a
	}
	s.attempt = a
	s.wg.Add(1)
	go s.runAttempt(a)
	return a
}

func (s *Source) runAttempt(a *attempt) {
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.ConnectTimeout)
	c, tools, err := s.connect(ctx)
	cancel()
	s.mu.Lock()
	s.attempt = nil
	switch {
	case err != nil:
		a.err = err
	case s.closed:
		a.err = s.errClosed()
	default:
		s.install(c, tools)
		a.conn = c
		s.log.Info("mcp server reconnected", "protocol", c.client.ProtocolVersion(), "tools", len(tools))
	}
	close(a.done)
	s.mu.Unlock()
	if err == nil && a.conn == nil { // closed meanwhile
		_ = c.close()
	}
}

// lost records that c broke: the source drops it and reconnects in the
// background.
func (s *Source) lost(c *conn, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.conn != c {
		return
	}
	s.conn = nil
	attrs := []any{"err", err}
	if t := c.stderr.String(); t != "" {
		attrs = append(attrs, "stderr", t)
	}
	s.log.Warn("mcp server connection lost, reconnecting", attrs...)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = c.close()
	}()
	if !s.retrying {
		s.retrying = true
		s.wg.Add(1)
		go s.reconnect()
	}
}

// reconnect retries connecting, with backoff, until connected or closed.
func (s *Source) reconnect() {
	defer s.wg.Done()
	delay := minBackoff
	for {
		s.mu.Lock()
		if s.closed || s.conn != nil {
			s.retrying = false
			s.mu.Unlock()
			return
		}
		a := s.dial()
		s.mu.Unlock()
		select {
		case <-a.done:
		case <-s.ctx.Done():
			continue
		}
		if a.err == nil {
			continue
		}
		if s.ctx.Err() == nil {
			s.log.Warn("mcp server reconnection failed", "err", a.err, "retry_in", delay)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
		}
		delay = min(2*delay, maxBackoff)
	}
}

// watch lists the tools again whenever c is told they changed.
func (s *Source) watch(c *conn) {
	defer s.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.relist:
		}
		ctx, cancel := context.WithTimeout(c.ctx, s.cfg.ConnectTimeout)
		tools, err := s.list(ctx, c)
		cancel()
		if err != nil {
			if c.ctx.Err() == nil {
				s.log.Warn("mcp server tools could not be listed again", "err", err)
			}
			continue
		}
		s.mu.Lock()
		if s.conn == c {
			s.setTools(tools)
		}
		s.mu.Unlock()
	}
}

// call calls the server's tool name with the model's arguments.
func (s *Source) call(ctx context.Context, name string, raw json.RawMessage) (tool.Output, error) {
	args, err := decodeArgs(raw)
	if err != nil {
		return tool.Output{}, fmt.Errorf("mcp server %s: tool %s: %w", s.cfg.Name, name, err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, s.cfg.CallTimeout, errCallTimeout)
	defer cancel()
	c, err := s.current(ctx)
	if err != nil {
		switch {
		case s.isClosed():
			return tool.Output{}, s.errClosed()
		case context.Cause(ctx) == errCallTimeout:
			return tool.Output{}, fmt.Errorf("mcp server %s: tool %s timed out after %s waiting to reconnect", s.cfg.Name, name, seconds(s.cfg.CallTimeout))
		case ctx.Err() != nil:
			return tool.Output{}, fmt.Errorf("mcp server %s: tool %s: %w", s.cfg.Name, name, ctx.Err())
		}
		return tool.Output{}, err // the failed attempt's error names the server
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	if tc := traceMeta(ctx); tc != nil {
		// The run's trace goes on into the server (_meta.traceparent;
		// over HTTP also the headers).
		req.Params.Meta = &mcp.Meta{AdditionalFields: tc}
	}
	res, err := c.client.CallTool(ctx, req)
	if err != nil {
		switch {
		case s.isClosed():
			return tool.Output{}, s.errClosed()
		case context.Cause(ctx) == errCallTimeout:
			return tool.Output{}, fmt.Errorf("mcp server %s: tool %s timed out after %s", s.cfg.Name, name, seconds(s.cfg.CallTimeout))
		case ctx.Err() != nil:
			return tool.Output{}, fmt.Errorf("mcp server %s: tool %s: %w", s.cfg.Name, name, ctx.Err())
		case connectionLost(err):
			s.lost(c, err)
			return tool.Output{}, fmt.Errorf("mcp server %s: connection lost: %w", s.cfg.Name, err)
		}
		return tool.Output{}, fmt.Errorf("mcp server %s: tool %s: %w", s.cfg.Name, name, err)
	}
	text := resultText(res)
	if len(text) > s.cfg.MaxResultBytes {
		return tool.Output{}, fmt.Errorf("mcp server %s: tool %s: result larger than %d bytes", s.cfg.Name, name, s.cfg.MaxResultBytes)
	}
	if res.IsError {
		if text == "" {
			text = fmt.Sprintf("mcp server %s: tool %s failed", s.cfg.Name, name)
		}
		return tool.Output{}, errors.New(text)
	}
	return tool.Output{Text: text, Media: resultMedia(res)}, nil
}

// decodeArgs decodes the model's arguments object (numbers kept exact).
func decodeArgs(raw json.RawMessage) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var args map[string]any
	if err := dec.Decode(&args); err != nil {
		return nil, fmt.Errorf("arguments are not a JSON object: %w", err)
	}
	if args == nil {
		args = map[string]any{}
	}
	return args, nil
}

// seconds formats d as "60s" rather than "1m0s".
func seconds(d time.Duration) string {
	if d >= time.Second && d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// list lists the server's tools on c.
func (s *Source) list(ctx context.Context, c *conn) ([]*tool.Tool, error) {
	res, err := c.client.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return nil, err
	}
	return s.convert(res.Tools), nil
}

// convert makes the listed tools agent tools, skipping those whose
// prefixed name models would reject.
func (s *Source) convert(listed []mcp.Tool) []*tool.Tool {
	out := make([]*tool.Tool, 0, len(listed))
	seen := map[string]bool{}
	for _, mt := range listed {
		name := s.cfg.Prefix + mt.Name
		if !validName.MatchString(name) {
			s.log.Warn("mcp server tool skipped: its name must match ^[a-zA-Z0-9_-]{1,64}$", "tool", name)
			continue
		}
		if seen[name] {
			s.log.Warn("mcp server tool skipped: listed twice", "tool", name)
			continue
		}
		seen[name] = true
		desc := mt.Description
		if desc == "" {
			desc = mt.Title
		}
		orig := mt.Name
		out = append(out, &tool.Tool{
			Name:        name,
			Description: desc,
			Parameters:  inputSchema(mt),
			Call: func(ctx context.Context, args json.RawMessage) (string, error) {
				o, err := s.call(ctx, orig, args)
				return o.Text, err
			},
			CallOutput: func(ctx context.Context, args json.RawMessage) (tool.Output, error) {
				return s.call(ctx, orig, args)
			},
		})
	}
	return out
}

// inputSchema is the tool's input schema as a map (an empty object schema
// when it has none).
func inputSchema(mt mcp.Tool) map[string]any {
	raw := mt.RawInputSchema
	if len(raw) == 0 {
		b, err := json.Marshal(mt.InputSchema)
		if err == nil {
			raw = b
		}
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil || schema == nil {
		schema = map[string]any{}
	}
	if _, ok := schema["type"]; !ok {
		schema["type"] = "object"
	}
	if schema["type"] == "object" {
		if _, ok := schema["properties"]; !ok {
			schema["properties"] = map[string]any{}
		}
	}
	return schema
}

var _ tool.Source = (*Source)(nil)

// traceMeta is ctx's W3C trace context as _meta fields (nil without one).
func traceMeta(ctx context.Context) map[string]any {
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	if len(c) == 0 {
		return nil
	}
	m := make(map[string]any, len(c))
	for k, v := range c {
		m[k] = v
	}
	return m
}

// traceHeaders is ctx's W3C trace context as HTTP headers.
func traceHeaders(ctx context.Context) map[string]string {
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c
}
