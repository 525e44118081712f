// Package admin is the admin listener: a plain net/http server, apart
// from the public API, serving Prometheus metrics on /metrics and, when
// enabled, net/http/pprof under /debug/pprof/. It listens on the loopback
// by default (observability.prometheus_addr); a public address needs an
// explicit opt-in (observability.prometheus_public), checked by the config.
package admin

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// Config configures the admin listener.
type Config struct {
	// Metrics serves /metrics (nil: 404).
	Metrics http.Handler
	// Pprof serves /debug/pprof/ (default off: 404).
	Pprof bool
}

// Server is the admin listener's HTTP server.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Handler is the admin routes.
func Handler(cfg Config) http.Handler {
	mux := http.NewServeMux()
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	if cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// Listen listens on addr and serves the admin routes in a goroutine.
func Listen(addr string, cfg Config) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, srv: &http.Server{Handler: Handler(cfg), ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the address listened on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops the server gracefully within ctx (a CPU profile being
// taken is cut short at ctx's end).
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return s.srv.Close()
	}
	return err
}
