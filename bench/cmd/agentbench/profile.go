package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/agentgate/agentgate"
)

// target is one HTTP server under load: agentgate (started by a profile)
// or the bare fiber baseline.
type target struct {
	name    string // "agentgate" or "baseline"
	baseURL string // http://127.0.0.1:PORT
	agentID string
	// describe says what is behind the URL, for the report header.
	describe string
	stop     func(context.Context) error
	// components, when set (by a profile), measures the profile's backends
	// directly, each next to a raw-client baseline; run calls it after the
	// HTTP measurements, while agentgate is still up.
	components func(ctx context.Context, env componentEnv) ([]*component, error)
}

// runsURL is the run-creation endpoint of the target's agent.
func (t *target) runsURL() string { return t.baseURL + "/agents/" + t.agentID + "/runs" }

// profile starts agentgate with one choice of backends. Each profile is
// self-contained: it creates what it needs (temp dirs, schemas, key
// prefixes), returns a target on a loopback listener, and its stop function
// removes it all.
//
// A profile is a start function registered in profiles below; the load and
// report code is shared. A profile may also ask for the resume measurement
// (resume), measure its backends directly (target.components) and choose
// the targets of the last line (checks).
type profile struct {
	name  string
	desc  string
	start func(ctx context.Context, opts profileOptions) (*target, error)
	// resume adds the resume measurement: GET .../runs/{run_id}/stream with
	// a Last-Event-ID in the middle of a finished run's stream.
	resume bool
	// checks are the targets checked on the report's last line.
	checks func(r *report) []check
}

// profileOptions are what every profile gets from the command line.
type profileOptions struct {
	logger *slog.Logger
	// noTracing turns the runs' tracing off (observability.tracing: false).
	noTracing bool
	// chunks is how many RunContent chunks the scripted model streams its
	// reply in (0: 5).
	chunks int
}

var profiles = map[string]profile{
	"embedded": {
		name:   "embedded",
		desc:   "SQLite state in a temp dir + in-memory event log",
		start:  startEmbedded,
		checks: embeddedChecks,
	},
	"postgres-redis": {
		name:   "postgres-redis",
		desc:   "PostgreSQL state in a throwaway schema + Redis event log under a throwaway key prefix",
		start:  startPostgresRedis,
		resume: true,
		checks: postgresRedisChecks,
	},
}

func profileNames() []string {
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// benchAgentID is the agent every run goes to.
const benchAgentID = "bench"

// benchReply is what the scripted model answers (in -chunks chunks, 5 by
// default, no delay):
// about the length of a short real answer, so the run JSON and the SSE
// frames have a realistic size.
const benchReply = "Hello! I am the agentbench assistant, answering from the offline scripted model " +
	"so the gateway can be measured without a real provider. You said: \"{{input}}\". " +
	"This reply is split into five chunks and streamed as RunContent events."

// backends are the backend settings of the bench config.
type backends struct {
	databaseURL string
	redisURL    string // "" = in-memory event log
	prefix      string // event_log.prefix (Redis key prefix)
	noTracing   bool   // observability.tracing: false
	chunks      int    // the scripted model's chunks (0: 5)
}

// yaml is the config lines of the event log and tracing settings.
func (b backends) yaml() string {
	var y string
	if b.redisURL != "" {
		y = fmt.Sprintf("redis_url: %q\nevent_log:\n  prefix: %q\n", b.redisURL, b.prefix)
	}
	if b.noTracing {
		y += "observability:\n  tracing: false\n"
	}
	return y
}

// benchConfig returns the YAML of the bench gateway: one scripted model
// (b.chunks, no chunk delay) and one agent without tools.
func benchConfig(b backends) []byte {
	redis := b.yaml()
	chunks := b.chunks
	if chunks <= 0 {
		chunks = 5
	}
	return []byte(fmt.Sprintf(`name: agentgate-bench
addr: 127.0.0.1:0
database_url: %q
%slog_level: error
models:
  bench:
    provider: scripted
    model: bench-1
    chunks: %d
    script:
      - reply: %q
agents:
  - id: %s
    name: Bench
    description: Load-test agent (scripted model, no tools).
    model: bench
    instructions: Answer briefly.
`, b.databaseURL, redis, chunks, benchReply, benchAgentID))
}

// startEmbedded runs the embedded default: SQLite in a temp dir and the
// in-memory event log, served on a loopback listener.
func startEmbedded(ctx context.Context, opts profileOptions) (*target, error) {
	dir, err := os.MkdirTemp("", "agentbench-*")
	if err != nil {
		return nil, err
	}
	cleanup := func() error { return os.RemoveAll(dir) }
	db := filepath.Join(dir, "bench.db")
	return serveGateway(ctx, opts, backends{databaseURL: "sqlite://" + db, noTracing: opts.noTracing, chunks: opts.chunks}, "sqlite "+db+" + memlog"+tracingNote(opts), cleanup)
}

// serveGateway starts agentgate with the bench config on b (through
// agentgate.ParseConfig + agentgate.New) on a loopback listener and waits
// until it is healthy. cleanup removes what the profile created; it runs
// after the gateway has shut down (or failed to start).
func serveGateway(ctx context.Context, opts profileOptions, b backends, describe string, cleanup func() error) (*target, error) {
	return serveConfig(ctx, opts, benchConfig(b), describe, cleanup)
}

// serveConfig is serveGateway with the gateway's whole config given.
func serveConfig(ctx context.Context, opts profileOptions, yaml []byte, describe string, cleanup func() error) (*target, error) {
	cfg, err := agentgate.ParseConfig(yaml)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("bench config: %w", err), cleanup())
	}
	gw, err := agentgate.New(ctx, cfg, agentgate.Options{Logger: opts.logger})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start agentgate: %w", err), cleanup())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = gw.Shutdown(ctx)
		return nil, errors.Join(err, cleanup())
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- gw.Serve(ln) }()
	t := &target{
		name:     "agentgate",
		baseURL:  "http://" + ln.Addr().String(),
		agentID:  benchAgentID,
		describe: describe,
	}
	t.stop = func(ctx context.Context) error {
		err := gw.Shutdown(ctx)
		select {
		case e := <-serveErr:
			if e != nil && !errors.Is(e, net.ErrClosed) {
				err = errors.Join(err, e)
			}
		case <-time.After(5 * time.Second):
		}
		if e := cleanup(); e != nil {
			err = errors.Join(err, e)
		}
		return err
	}
	if err := waitHealthy(ctx, t.baseURL+"/health", serveErr); err != nil {
		return nil, errors.Join(err, t.stop(context.Background()))
	}
	return t, nil
}

// waitHealthy polls url until it answers 200 (or serving fails).
func waitHealthy(ctx context.Context, url string, serveErr <-chan error) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-serveErr:
			return fmt.Errorf("serve: %w", err)
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not healthy: %w", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// unknownProfile is the error for a -profile that is not registered.
func unknownProfile(name string) error {
	return fmt.Errorf("unknown -profile %q (available: %s)", name, strings.Join(profileNames(), ", "))
}

// tracingNote says in the target's description whether runs are traced.
func tracingNote(opts profileOptions) string {
	if opts.noTracing {
		return ", tracing off"
	}
	return ", tracing on"
}
