package agentgate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Serve is `agentgate serve`: it binds cfg.Addr first, then builds the
// gateway (opening and migrating the database, connecting the event log and
// MCP servers, starting the queue's workers) and serves until ctx is done.
//
// Binding first means a supervisor or load balancer sees the process from
// its first second: while the gateway starts, the port answers /health 200,
// /ready 503 and every other request 503 with Retry-After, instead of
// refusing connections during a long migration. A port already taken fails
// before anything is opened.
func Serve(ctx context.Context, cfg *Config, opts Options) error {
	if cfg == nil {
		var err error
		if cfg, err = LoadConfig(""); err != nil {
			return err
		}
	}
	cfg.applyDefaults()
	if err := cfg.CheckExposure(); err != nil {
		return err
	}
	logger := opts.Logger
	if logger == nil {
		logger = NewLogger(cfg.LogLevel)
		opts.Logger = logger
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	logger.Info("agentgate port bound; opening the database and starting", "addr", ln.Addr().String())
	hl := newHandoff(ln)
	starting := startingServer(hl.next())
	g, err := New(ctx, cfg, opts)
	if err != nil {
		_ = starting.Shutdown() // closes the socket: its phase is the last
		return err
	}
	live := hl.next()
	// The starting server's connections are answered and closed (it keeps
	// none alive); the new ones go to the gateway meanwhile.
	go func() { _ = starting.Shutdown() }()
	return g.serveUntil(ctx, live)
}

// startingServer answers on ln while the gateway starts.
func startingServer(ln net.Listener) *fasthttp.Server {
	srv := &fasthttp.Server{
		Name:                  "agentgate",
		DisableKeepalive:      true,
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          10 * time.Second,
		NoDefaultDate:         true,
		NoDefaultServerHeader: true,
		Handler: func(c *fasthttp.RequestCtx) {
			c.SetContentType("application/json")
			switch string(c.Path()) {
			case "/health", "/health/":
				c.SetStatusCode(fasthttp.StatusOK)
				c.SetBodyString(`{"status":"starting"}`)
			case "/ready", "/ready/":
				c.SetStatusCode(fasthttp.StatusServiceUnavailable)
				c.SetBodyString(`{"ready":false,"detail":"starting: opening the database and starting the workers"}`)
			default:
				c.Response.Header.Set("Retry-After", "1")
				c.SetStatusCode(fasthttp.StatusServiceUnavailable)
				c.SetBodyString(`{"detail":"agentgate is starting; retry in a moment"}`)
			}
		},
	}
	go func() { _ = srv.Serve(ln) }()
	return srv
}

// handoff accepts on one listener and hands the connections to a sequence
// of phase listeners: the starting server's, then the gateway's. Closing a
// phase listener ends that phase only; closing the last one (or the
// handoff) closes the socket.
type handoff struct {
	ln    net.Listener
	conns chan net.Conn
	done  chan struct{} // closed when ln's accept loop ended
	err   error         // why it ended, set before done is closed
	mu    sync.Mutex
	phase *phase
}

func newHandoff(ln net.Listener) *handoff {
	h := &handoff{ln: ln, conns: make(chan net.Conn), done: make(chan struct{})}
	go h.acceptLoop()
	return h
}

func (h *handoff) acceptLoop() {
	defer close(h.done)
	for {
		c, err := h.ln.Accept()
		if err != nil {
			h.err = err
			return
		}
		h.conns <- c
	}
}

// next ends the current phase and returns the listener of the next one.
// The last phase's Close closes the socket.
func (h *handoff) next() net.Listener {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.phase != nil {
		h.phase.end()
	}
	h.phase = &phase{h: h, ended: make(chan struct{})}
	return h.phase
}

// Close closes the socket.
func (h *handoff) Close() error {
	err := h.ln.Close()
	for {
		select {
		case c := <-h.conns:
			// Accepted just before, with no phase left to take it.
			_ = c.Close()
		case <-h.done:
			return err
		}
	}
}

// phase is one listener of a handoff.
type phase struct {
	h     *handoff
	once  sync.Once
	ended chan struct{}
}

func (p *phase) end() { p.once.Do(func() { close(p.ended) }) }

func (p *phase) Accept() (net.Conn, error) {
	select {
	case <-p.ended:
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-p.h.conns:
		return c, nil
	case <-p.ended:
		return nil, net.ErrClosed
	case <-p.h.done:
		if p.h.err != nil {
			return nil, p.h.err
		}
		return nil, net.ErrClosed
	}
}

// Close ends the phase; the current (last) phase also closes the socket.
func (p *phase) Close() error {
	p.end()
	p.h.mu.Lock()
	last := p.h.phase == p
	p.h.mu.Unlock()
	if last {
		if err := p.h.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
	}
	return nil
}

func (p *phase) Addr() net.Addr { return p.h.ln.Addr() }
