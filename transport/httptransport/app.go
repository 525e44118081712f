// Package httptransport owns agentgate's HTTP server: the fiber app, the
// middleware chain (request id, recover, logging, body limit), the JSON
// error shape and the SSE pump with heartbeats. Adapters register routes on
// the app and render frames; run decisions belong to core.
package httptransport

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/agentgate/agentgate/auth"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
)

// Config configures the HTTP server. The zero value is usable.
type Config struct {
	// BodyLimit is the largest request body accepted, in bytes (default
	// 10 MiB); larger bodies get 413.
	BodyLimit int
	// HeartbeatInterval is the silence after which an SSE stream sends a
	// comment frame (default 15 s).
	HeartbeatInterval time.Duration
	// ReadTimeout bounds reading one request (default 30 s).
	ReadTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections (default 120 s).
	IdleTimeout time.Duration
	Logger      *slog.Logger
	// Auth authenticates requests; nil means auth mode none.
	Auth *auth.Authenticator
	// Limiter rate-limits per principal; nil means no limit.
	Limiter *auth.Limiter
	// CORSOrigins are the browser origins allowed (none: no CORS headers).
	CORSOrigins []string
	// CORSLoopback also allows every http origin on the loopback
	// (localhost, 127.0.0.1, [::1], any port): a chat UI running on this
	// machine works against a gateway without auth, which listens on the
	// loopback only.
	CORSLoopback bool
	// MaxHeaderBytes bounds the request line and headers (default 16 KiB).
	MaxHeaderBytes int
	// AccessLogOff turns off the access log: one line per request (method,
	// path, status, duration, request id) at AccessLogLevel (default info).
	AccessLogOff   bool
	AccessLogLevel slog.Level
	// Hooks are told what the transport sees, for metrics (nil: none).
	Hooks Hooks
	// StreamBody names the requests whose bodies their handlers read as
	// they arrive (StreamedBody), bounded by the handler, not BodyLimit:
	// a run's multipart form, whose files are stored as they are read.
	// Every other body is read whole first, up to BodyLimit.
	StreamBody func(method, path, contentType string) bool
}

// Hooks are told what the transport sees (core/metric/prom implements
// them). Calls must return at once.
type Hooks interface {
	// AuthFailed counts a refusal on iface ("rest", "ws", "mcp", "a2a",
	// "slack") for reason, one of a small set (see AuthRejected).
	AuthFailed(iface, reason string)
	// StreamOpened counts an SSE response of iface ("rest", "mcp", "a2a")
	// opening; closed is called once when it ends.
	StreamOpened(iface string) (closed func())
}

func (c Config) withDefaults() Config {
	if c.BodyLimit <= 0 {
		c.BodyLimit = 10 << 20
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 15 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 30 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 120 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 16 << 10
	}
	if c.Auth == nil {
		c.Auth, _ = auth.New(auth.Config{Mode: auth.ModeNone}, nil)
	}
	return c
}

// Server is the fiber app plus its configuration.
type Server struct {
	App *fiber.App
	cfg Config
}

// New builds the fiber app with agentgate's middleware chain.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	app := fiber.New(fiber.Config{
		AppName:               "agentgate",
		BodyLimit:             cfg.BodyLimit,
		ReadTimeout:           cfg.ReadTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		DisableStartupMessage: true,
		ErrorHandler:          errorHandler(cfg.Logger),
		StrictRouting:         false,
		ReadBufferSize:        cfg.MaxHeaderBytes,
		// Idle keep-alive and WebSocket connections give their buffers back
		// (an idle WebSocket costs ~11 KiB instead of ~28 KiB).
		ReduceMemoryUsage: true,
		// The run endpoints parse their own forms (adapters/rest.ParseForm);
		// fasthttp would parse every multipart body once more before them.
		DisablePreParseMultipartForm: true,
		// Bodies are read by bodyLimit, whole up to BodyLimit, or by the
		// handlers of StreamBody's requests as they arrive. (The cost: a
		// connection keeps its 16 KiB read buffer while idle or hijacked
		// by a WebSocket, which ReduceMemoryUsage gives back otherwise.)
		StreamRequestBody: true,
	})
	app.Use(recover.New())
	app.Use(requestid.New())
	if !cfg.AccessLogOff {
		app.Use(accessLog(cfg.Logger, cfg.AccessLogLevel))
	}
	app.Use(bodyLimit(cfg.BodyLimit, cfg.StreamBody))
	if len(cfg.CORSOrigins) > 0 || cfg.CORSLoopback {
		// Before authentication: preflights carry no credentials.
		cc := cors.Config{
			AllowOrigins:  strings.Join(cfg.CORSOrigins, ","),
			AllowHeaders:  "Authorization, Content-Type, Idempotency-Key, Last-Event-ID, Mcp-Session-Id, MCP-Protocol-Version, Mcp-Method, Mcp-Name, A2A-Version",
			ExposeHeaders: "Retry-After, Mcp-Session-Id, WWW-Authenticate",
		}
		if cfg.CORSLoopback {
			cc.AllowOrigins, cc.AllowOriginsFunc = "", originAllowed(cfg.CORSOrigins)
		}
		app.Use(cors.New(cc))
	}
	app.Use(authenticate(cfg.Auth, cfg.Limiter, cfg.Hooks))
	return &Server{App: app, cfg: cfg}
}

// originAllowed allows the configured origins and any http origin on the
// loopback.
func originAllowed(configured []string) func(origin string) bool {
	set := map[string]bool{}
	for _, o := range configured {
		set[strings.ToLower(strings.TrimRight(strings.TrimSpace(o), "/"))] = true
	}
	return func(origin string) bool {
		origin = strings.ToLower(origin)
		if set["*"] || set[origin] {
			return true
		}
		u, err := url.Parse(origin)
		if err != nil || u.Scheme != "http" || u.Path != "" || u.User != nil {
			return false
		}
		if h := u.Hostname(); h == "localhost" {
			return true
		} else if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
			return true
		}
		return false
	}
}

// Config returns the effective configuration.
func (s *Server) Config() Config { return s.cfg }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.App.Listener(ln) }

// Shutdown stops accepting connections and waits for open requests (and SSE
// streams) until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.App.ShutdownWithContext(ctx)
}

// ErrorBody is the JSON shape of every error answer: {"detail": "..."}.
type ErrorBody struct {
	Detail string `json:"detail"`
	// FirstAvailableIndex is set on 410 answers to a resume.
	FirstAvailableIndex *int64 `json:"first_available_index,omitempty"`
	// ApprovalID is set on 403 answers to a continue refused while the
	// run's approval is pending.
	ApprovalID string `json:"approval_id,omitempty"`
}

// WriteError answers with status and {"detail": msg}.
func WriteError(c *fiber.Ctx, status int, body ErrorBody) error {
	b, _ := json.Marshal(body)
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}

func errorHandler(logger *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		var fe *fiber.Error
		if errors.As(err, &fe) {
			msg := fe.Message
			if fe.Code == fiber.StatusRequestEntityTooLarge {
				msg = "request body too large"
			}
			return WriteError(c, fe.Code, ErrorBody{Detail: msg})
		}
		logger.Error("unhandled error", "path", c.Path(), "err", err)
		return WriteError(c, fiber.StatusInternalServerError, ErrorBody{Detail: "internal error"})
	}
}

func accessLog(logger *slog.Logger, level slog.Level) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		if ctx := c.UserContext(); logger.Enabled(ctx, level) {
			status := c.Response().StatusCode()
			if err != nil {
				// The error handler writes the answer after this
				// middleware returns: log the status it will write.
				status = fiber.StatusInternalServerError
				var fe *fiber.Error
				if errors.As(err, &fe) {
					status = fe.Code
				}
			}
			// For a stream (SSE, a WebSocket upgrade) this is when its
			// answer began, not when it ended.
			logger.Log(ctx, level, "request", "method", c.Method(), "path", c.Path(),
				"status", strconv.Itoa(status), "dur", time.Since(start).String(),
				"request_id", c.GetRespHeader(fiber.HeaderXRequestID))
		}
		return err
	}
}
