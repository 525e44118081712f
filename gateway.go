// Package agentgate is the embedding API: build a gateway from a Config,
// register agents written in Go, add routes to its fiber app, serve it, and
// call runs from Go code.
package agentgate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/agentgate/agentgate/adapters/rest"
	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/component"
	"github.com/agentgate/agentgate/core/eval"
	"github.com/agentgate/agentgate/core/knowledge"
	"github.com/agentgate/agentgate/core/learning"
	"github.com/agentgate/agentgate/core/media"
	"github.com/agentgate/agentgate/core/memory"
	"github.com/agentgate/agentgate/core/metric"
	"github.com/agentgate/agentgate/core/metric/prom"
	"github.com/agentgate/agentgate/core/model"
	"github.com/agentgate/agentgate/core/schedule"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/core/trace"
	"github.com/agentgate/agentgate/core/trace/tracing"
	redactpkg "github.com/agentgate/agentgate/internal/redact"
	"github.com/agentgate/agentgate/queue/riverqueue"
	"github.com/agentgate/agentgate/storage"
	"github.com/agentgate/agentgate/transport/admin"
	"github.com/agentgate/agentgate/transport/egress"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// Version is the build's version, set with -ldflags "-X github.com/agentgate/agentgate.Version=...".
var Version = "0.1.0-dev"

// Gateway is a configured agentgate: engine, storage, HTTP server, routes.
type Gateway struct {
	cfg     *Config
	logger  *slog.Logger
	backend *storage.Backend
	store   storage.Store
	log     core.EventLog
	queue   *riverqueue.Queue
	eng     *core.Engine
	srv     *httptransport.Server
	// sources are the connected MCP servers whose tools agents use.
	sources []tool.Source
	// egress checks the URLs called on a caller's behalf (egress.allow).
	egress *egress.Guard
	// mounted are the interfaces mounted, in order; mountedInfo what
	// /config says of them.
	mounted     []httptransport.Interface
	mountedInfo []rest.InterfaceInfo
	// approvalWebhook delivers the approvals webhook (nil: none).
	approvalWebhook *approvalWebhook
	// prom are the Prometheus metrics (nil: admin listener off), admin
	// the admin listener serving them (gateway_prometheus.go).
	prom  *prom.Metrics
	admin *admin.Server
	// stopReturner stops returnMemory's goroutine.
	stopReturner func()
	// schedules is the schedules' service (nil when they are off).
	schedules *schedule.Service
	// memories is the memories' service (nil when they are off).
	memories *memory.Service
	// knowledge is the knowledge bases' service (nil when none is configured).
	knowledge *knowledge.Service
	// media keeps the files, images, audio and video of runs.
	media media.Store
	// learnings is the learnings' service (nil when they are off).
	learnings *learning.Service
	// evals is the evals' service (nil when they are off).
	evals *eval.Service
	// evalsReady is closed once evals is built (the queued eval runs'
	// worker waits for it).
	evalsReady chan struct{}
	// traces is the traces' service (nil when tracing is off).
	traces *trace.Service
	// tracing produces the runs' spans (nil when tracing is off).
	tracing *tracing.Tracing
	// metrics is the daily metrics' service.
	metrics *metric.Service
	// models are the configured models, mcpStarted the MCP servers
	// connected (by name), built once and shared by the agents, the
	// file's and the components' (gateway_components.go).
	models     map[string]model.Model
	mcpStarted map[string]tool.Source
	// components is the components' service (nil when they are off),
	// componentRunnables its runnables.
	components         *component.Service
	componentRunnables *componentResolver
}

// Options tune New beyond the Config.
type Options struct {
	// Logger receives structured logs; nil builds one from Config.LogLevel.
	Logger *slog.Logger
}

// New builds a gateway from cfg: it opens the state store (migrating it),
// the event log, builds the configured agents and mounts every route.
func New(ctx context.Context, cfg *Config, opts Options) (*Gateway, error) {
	if cfg == nil {
		var err error
		if cfg, err = LoadConfig(""); err != nil {
			return nil, err
		}
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = NewLogger(cfg.LogLevel)
	}
	// Whatever a component logs, the configured secrets do not get out.
	logger = slog.New(redactpkg.NewHandler(logger.Handler(), cfg.secrets()))
	for _, w := range cfg.EnvWarnings() {
		logger.Warn("unknown environment variable ignored", "name", w.Name, "did_you_mean", w.Closest)
	}
	for _, d := range cfg.Deprecations() {
		logger.Warn(d)
	}
	for _, name := range cfg.UnsetEnvRefs() {
		logger.Warn("the config references an environment variable that is not set; it expands to \"\"", "name", name)
	}
	sqlitePath, err := sqliteDir(cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	// Say which file: a relative path depends on the working directory (an
	// IDE launches `mcp --stdio` from anywhere).
	switch {
	case sqlitePath == "":
	case filepath.IsAbs(sqliteFile(cfg.DatabaseURL)):
		logger.Info("state store: SQLite", "path", sqlitePath)
	default:
		logger.Warn("state store: SQLite at a path relative to the working directory", "path", sqlitePath, "database_url", redactpkg.URL(cfg.DatabaseURL))
	}
	applyMemoryLimit(cfg, logger)
	backend, elog, err := openBackends(ctx, cfg)
	if err != nil {
		return nil, err
	}
	store := backend.Store
	metrics := newMetrics(cfg)
	elog = instrumentLog(elog, metrics)
	observeStoreWrites(backend, metrics)
	g := &Gateway{cfg: cfg, logger: logger, backend: backend, store: store, log: elog, prom: metrics, stopReturner: returnMemory(memoryReturnEvery)}
	authn, err := newAuthenticator(cfg, store)
	if err != nil {
		_ = g.closeBackends()
		return nil, err
	}
	if err := g.openQueue(ctx); err != nil {
		_ = g.closeBackends()
		return nil, err
	}
	if err := g.openMedia(ctx, sqlitePath); err != nil {
		_ = g.closeBackends()
		return nil, err
	}
	var queue core.Queue
	if g.queue != nil {
		queue = g.queue
	}
	eng, err := core.NewEngine(core.EngineConfig{Store: store, Log: elog, Logger: logger, Media: g.media, SessionMedia: store, IngestMedia: g.ingestMedia,
		HistoryRuns: cfg.Runs.HistoryRuns, LeaseTTL: cfg.Runs.LeaseTTL,
		CreateDelay: cfg.Tuning.StoreDelay, FinalCacheTTL: cfg.Tuning.FinalCacheTTL, Queue: queue,
		IdempotencyTTL:  cfg.Runs.IdempotencyTTL,
		MaxMessageBytes: cfg.Limits.MaxMessageBytes, DisconnectGrace: cfg.Runs.DisconnectGrace,
		Approvals: cfg.Approvals.settings()})
	if err != nil {
		_ = g.closeBackends()
		return nil, err
	}
	g.eng = eng
	g.observeRuns()
	// Before the queue starts: they register their jobs on it.
	if err := g.setupApprovals(ctx); err != nil {
		_ = g.closeBackends()
		return nil, err
	}
	g.buildLearnings()
	if err := g.buildTraces(); err != nil {
		_ = g.closeBackends()
		return nil, err
	}
	if err := g.buildTracing(); err != nil {
		_ = g.closeBackends()
		return nil, err
	}
	if err := g.buildMetrics(); err != nil {
		_ = g.closeBackends()
		return nil, err
	}
	if err := g.buildSchedules(); err != nil {
		_ = g.closeBackends()
		return nil, err
	}
	if err := g.buildMemories(); err != nil {
		_ = g.closeBackends()
		return nil, err
	}
	if err := g.buildKnowledge(); err != nil {
		_ = g.closeBackends()
		return nil, err
	}
	if err := g.registerEvalJob(); err != nil {
		_ = g.closeBackends()
		return nil, err
	}
	if g.queue != nil {
		g.queue.SetExecutor(eng)
		if err := g.queue.Start(ctx); err != nil {
			_ = g.closeBackends()
			return nil, fmt.Errorf("start the background-run queue: %w", err)
		}
	}
	if g.egress, err = egress.New(egress.Config{Allow: cfg.Egress.Allow, MaxRedirects: cfg.Egress.MaxRedirects}); err != nil {
		_ = g.closeBackends()
		return nil, err
	}
	if err := g.buildAgents(ctx); err != nil {
		_ = g.closeBackends()
		return nil, err
	}
	if err := g.buildWorkflows(); err != nil {
		_ = g.closeBackends()
		return nil, err
	}
	if err := g.buildEvals(); err != nil {
		_ = g.closeBackends()
		return nil, err
	}
	g.buildComponents()
	g.srv = httptransport.New(httptransport.Config{
		BodyLimit: cfg.HTTP.BodyLimit, StreamBody: rest.StreamsBody, HeartbeatInterval: cfg.HTTP.Heartbeat, Logger: logger,
		Auth: authn, Limiter: auth.NewLimiter(auth.LimiterConfig{RPS: cfg.Auth.RateLimit.RPS, Burst: cfg.Auth.RateLimit.Burst}),
		CORSOrigins:  cfg.Auth.CORSOrigins,
		AccessLogOff: cfg.Log.Access != nil && !*cfg.Log.Access, AccessLogLevel: parseLevel(cfg.Log.AccessLevel),
		// Without auth the gateway listens on the loopback only; a chat UI
		// served there too is allowed without configuration.
		CORSLoopback: (cfg.AuthMode == "" || cfg.AuthMode == auth.ModeNone) && !cfg.Auth.AllowRemoteWithoutAuth,
		Hooks:        g.transportHooks(),
	})
	// The interfaces are shut down in reverse, once the HTTP server
	// stopped accepting, on a failed start as on Shutdown.
	g.srv.App.Hooks().OnShutdown(func() error { g.unmountInterfaces(); return nil })
	// Each interface declares its own policy entries as it mounts.
	policy := auth.NewPolicy()
	if err := g.mountInterfaces(policy, g.interfaces()); err != nil {
		_ = g.Shutdown(context.Background())
		return nil, err
	}
	if err := policy.CheckCoverage(); err != nil {
		_ = g.Shutdown(context.Background())
		return nil, err
	}
	g.registerInterfaceGauges()
	return g, nil
}

// openBackends opens the state database and the event log the config
// names, failing fast, with a clear message, when one is unreachable.
func openBackends(ctx context.Context, cfg *Config) (*storage.Backend, core.EventLog, error) {
	octx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	backend, err := storage.Open(octx, cfg.DatabaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot open the state store %s: %w", redactpkg.URL(cfg.DatabaseURL), err)
	}
	logCfg := core.EventLogConfig{MaxEventsPerRun: cfg.EventLog.MaxEventsPerRun, Retention: cfg.EventLog.Retention, MaxEvents: cfg.EventLog.MaxEvents}
	elog, err := storage.OpenEventLog(octx, cfg.RedisURL, cfg.EventLog.Prefix, logCfg)
	if err != nil {
		_ = backend.Close()
		return nil, nil, fmt.Errorf("cannot open the event log %s: %w", redactpkg.URL(cfg.RedisURL), err)
	}
	return backend, elog, nil
}

// newAuthenticator builds the authenticator the config asks for.
func newAuthenticator(cfg *Config, accounts auth.ServiceAccountLookup) (*auth.Authenticator, error) {
	ac := auth.Config{Mode: cfg.AuthMode, SecurityKey: cfg.SecurityKey, JWT: auth.JWTConfig{
		Algorithm: cfg.Auth.JWTAlgorithm, Key: cfg.JWTKey, JWKSFile: cfg.Auth.JWKSFile, JWKSURL: cfg.JWKSURL,
		Audience: cfg.Auth.Audience, Issuer: cfg.Auth.Issuer, Leeway: cfg.Auth.Leeway,
	}}
	if cfg.UserIsolation != "" {
		iso := cfg.UserIsolation == "true"
		ac.UserIsolation = &iso
	}
	// auth's errors already start with "auth: ".
	return auth.New(ac, accounts)
}

// openQueue opens the durable queue of background runs on the state
// database.
func (g *Gateway) openQueue(ctx context.Context) error {
	qcfg := riverqueue.Config{Workers: g.cfg.Queue.Workers, RescueAfter: g.cfg.Queue.RescueAfter,
		PollInterval: g.cfg.Tuning.QueuePollInterval, MaxAttempts: g.cfg.Queue.MaxAttempts, Logger: g.logger}
	q, err := g.backend.OpenQueue(ctx, qcfg)
	if err != nil {
		return fmt.Errorf("open the background-run queue: %w", err)
	}
	g.queue = q
	return g.observeQueue()
}

// NewLogger returns a text logger on stderr at the named level.
func NewLogger(level string) *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: parseLevel(level)}))
}

// parseLevel is the slog level named by a validated config value ("" and
// anything unknown: info).
func parseLevel(level string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return l
}

// RegisterAgent adds an agent written in Go; it is served on every
// interface like the configured ones.
func (g *Gateway) RegisterAgent(a core.Agent) error { return g.eng.RegisterAgent(a) }

// App returns the fiber app, to add routes and middleware.
func (g *Gateway) App() *fiber.App { return g.srv.App }

// Engine returns the run engine.
func (g *Gateway) Engine() *core.Engine { return g.eng }

// Config returns the effective configuration.
func (g *Gateway) Config() *Config { return g.cfg }

// Run runs an agent from Go code and waits for the run to end (or pause).
func (g *Gateway) Run(ctx context.Context, agentID, message string, p core.StartParams) (*core.Run, error) {
	p.AgentID, p.Message = agentID, message
	run, err := g.eng.Start(ctx, p)
	if err != nil {
		return nil, err
	}
	return g.eng.Wait(ctx, run.RunID, -1)
}

// Serve serves HTTP on ln until Shutdown.
func (g *Gateway) Serve(ln net.Listener) error { return g.srv.Serve(ln) }

// ListenAndServe listens on the configured address and serves until ctx is
// done, then shuts down gracefully (within http.shutdown_timeout). The
// gateway is shut down when it returns, whatever the reason.
func (g *Gateway) ListenAndServe(ctx context.Context) error {
	if err := g.cfg.CheckExposure(); err != nil {
		_ = g.Shutdown(context.Background())
		return err
	}
	ln, err := net.Listen("tcp", g.cfg.Addr)
	if err != nil {
		_ = g.Shutdown(context.Background())
		return fmt.Errorf("listen on %s: %w", g.cfg.Addr, err)
	}
	return g.serveUntil(ctx, ln)
}

// serveUntil serves on ln until ctx is done, then shuts down gracefully.
func (g *Gateway) serveUntil(ctx context.Context, ln net.Listener) error {
	g.logger.Info("agentgate listening", "addr", ln.Addr().String(), "database", redactpkg.URL(g.cfg.DatabaseURL), "agents", len(g.eng.Agents()))
	if g.cfg.exposedWithoutAuth() {
		g.logger.Warn("listening beyond loopback without authentication: every caller is an admin "+
			"(auth.allow_remote_without_auth is set); set auth_mode to key or jwt to require credentials", "addr", ln.Addr().String())
	}
	if err := g.startAdmin(); err != nil {
		_ = ln.Close()
		_ = g.Shutdown(context.Background())
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- g.Serve(ln) }()
	select {
	case err := <-errc:
		_ = g.Shutdown(context.Background())
		return err
	case <-ctx.Done():
	}
	g.logger.Info("agentgate shutting down", "timeout", g.cfg.HTTP.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), g.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := g.Shutdown(sctx); err != nil {
		// A shutdown that had to cut something short is logged, not an
		// error exit: the operator asked the process to stop.
		g.logger.Warn("shutdown was not clean", "err", err)
	}
	return nil
}

// CheckExposure refuses to serve without auth on a non-loopback address,
// unless the operator explicitly allowed it.
func (c *Config) CheckExposure() error {
	if c.AuthMode != "" && c.AuthMode != auth.ModeNone || c.Auth.AllowRemoteWithoutAuth {
		return nil
	}
	loopback, err := loopbackAddr(c.Addr)
	if err != nil {
		return err
	}
	if loopback {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without authentication: set auth_mode (key or jwt), "+
		"or auth.allow_remote_without_auth: true (AGENTGATE_AUTH_ALLOW_REMOTE_WITHOUT_AUTH=true) to expose an open gateway", c.Addr)
}

// exposedWithoutAuth reports whether the gateway is open (auth mode none)
// on an address beyond loopback, which only allow_remote_without_auth lets
// it do.
func (c *Config) exposedWithoutAuth() bool {
	if c.AuthMode != "" && c.AuthMode != auth.ModeNone {
		return false
	}
	loopback, err := loopbackAddr(c.Addr)
	return err == nil && !loopback
}

// loopbackAddr reports whether HOST:PORT names only loopback interfaces.
func loopbackAddr(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// Shutdown stops accepting runs and connections, lets running runs finish
// for most of ctx's time, then cancels the rest (so every open stream gets
// its final RunCancelled frame), waits for the streams to drain, and closes
// the backends.
func (g *Gateway) Shutdown(ctx context.Context) error {
	srvDone := make(chan error, 1)
	go func() { srvDone <- g.srv.Shutdown(ctx) }()
	engCtx := ctx
	if dl, ok := ctx.Deadline(); ok {
		// Leave a quarter of the time for the final frames to be written.
		var cancel context.CancelFunc
		engCtx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(dl)*3/4))
		defer cancel()
	}
	var err error
	if g.queue != nil {
		// Stop taking jobs; jobs executing here end with the engine below.
		err = g.queue.Stop(engCtx)
	}
	err = errors.Join(err, g.closeEvals(engCtx), g.eng.Close(engCtx))
	err = errors.Join(err, <-srvDone, g.stopAdmin(ctx))
	return errors.Join(err, g.closeBackends())
}

func (g *Gateway) closeBackends() error {
	_ = g.closeEvals(context.Background())
	g.stopReturner()
	g.stopTracing() // its last spans, before the store closes
	if g.metrics != nil {
		g.metrics.Close() // a background refresh, before the store closes
	}
	var errs []error
	if g.queue != nil {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		errs = append(errs, g.queue.Stop(cctx))
		cancel()
	}
	for _, src := range g.sources {
		errs = append(errs, src.Close())
	}
	return errors.Join(append(errs, g.log.Close(), g.backend.Close())...)
}

// Migrator moves a state database's schema (agentgate migrate).
type Migrator = storage.Migrator

// OpenMigrator opens the database at url for schema changes only.
func OpenMigrator(ctx context.Context, url string) (Migrator, error) {
	if _, err := sqliteDir(url); err != nil {
		return nil, err
	}
	return storage.OpenMigrator(ctx, url)
}

// Redact hides the password of a URL for messages and logs.
func Redact(url string) string { return redactpkg.URL(url) }
