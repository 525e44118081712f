package agentgate

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/agentgate/agentgate/configs"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/remote"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/core/tool/mcptool"
	redactpkg "github.com/agentgate/agentgate/internal/redact"
	"github.com/agentgate/agentgate/storage"
	"github.com/agentgate/agentgate/transport/egress"
)

// Config is the whole gateway configuration, as decoded (strictly) from
// YAML. Every scalar setting can also be set by an AGENTGATE_* environment
// variable named after its YAML path (http.body_limit → AGENTGATE_HTTP_BODY_LIMIT),
// which overrides the file.
type Config struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Addr is where serve listens (default 127.0.0.1:7777).
	Addr string `yaml:"addr"`
	// DatabaseURL selects the state store: sqlite://FILE (default: see
	// DefaultDatabaseURL), sqlite::memory: or postgres://….
	DatabaseURL string `yaml:"database_url"`
	// RedisURL selects the event log: empty means in memory.
	RedisURL string `yaml:"redis_url"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// Log configures the access log.
	Log LogConfig `yaml:"log"`
	// AuthMode is none (default: then serve listens on loopback only),
	// key (SecurityKey as a bearer token) or jwt.
	AuthMode string `yaml:"auth_mode"`
	// SecurityKey is the shared key of auth_mode key.
	SecurityKey string `yaml:"security_key"`
	// JWTKey is the PEM public key (RS256, ES256) or the secret (HS256)
	// that verifies JWTs.
	JWTKey string `yaml:"jwt_key"`
	// JWKSURL is where the JWT keys are fetched (cached; refreshed on an
	// unknown kid).
	JWKSURL string `yaml:"jwks_url"`
	// UserIsolation binds non-admins to their own sessions and runs; on by
	// default whenever auth is on ("true" or "false" to force).
	UserIsolation string          `yaml:"user_isolation"`
	Auth          AuthConfig      `yaml:"auth"`
	HTTP          HTTPConfig      `yaml:"http"`
	Limits        LimitsConfig    `yaml:"limits"`
	Runtime       RuntimeConfig   `yaml:"runtime"`
	EventLog      EventLogConfig  `yaml:"event_log"`
	Runs          RunsConfig      `yaml:"runs"`
	Queue         QueueConfig     `yaml:"queue"`
	Schedules     SchedulesConfig `yaml:"schedules"`
	Memory        MemoryConfig    `yaml:"memory"`
	Learnings     LearningsConfig `yaml:"learnings"`
	Evals         EvalsConfig     `yaml:"evals"`
	WS            WSConfig        `yaml:"ws"`
	MCP           MCPConfig       `yaml:"mcp"`
	A2A           A2AConfig       `yaml:"a2a"`
	Slack         SlackConfig     `yaml:"slack"`
	Egress        EgressConfig    `yaml:"egress"`
	Approvals     ApprovalsConfig `yaml:"approvals"`
	// Observability: traces, OTLP export, Prometheus and pprof
	// (config_observability.go).
	Observability ObservabilityConfig `yaml:"observability"`
	// Media: where runs' files, images, audio and video are kept
	// (gateway_media.go).
	Media  MediaConfig            `yaml:"media"`
	Models map[string]ModelConfig `yaml:"models"`
	// Embedders and Knowledge are the knowledge bases (config_knowledge.go).
	Embedders map[string]EmbedderConfig `yaml:"embedders"`
	Knowledge []KnowledgeConfig         `yaml:"knowledge"`
	// MCPServers are external MCP servers whose tools agents may use.
	MCPServers map[string]MCPServerConfig `yaml:"mcp_servers"`
	// HTTPTools are tools that call an HTTP API, by tool name.
	HTTPTools map[string]HTTPToolConfig `yaml:"http_tools"`
	Agents    []AgentConfig             `yaml:"agents"`
	// Teams are teams of agents and other teams (see TeamConfig).
	Teams []TeamConfig `yaml:"teams"`
	// Workflows are agno-style workflows over the agents (and teams).
	Workflows []WorkflowConfig `yaml:"workflows"`
	// Tuning holds internal knobs: leave them out (see TuningConfig).
	Tuning TuningConfig `yaml:"tuning"`
	// Components: agents, teams and workflows versioned in the state
	// database (gateway_components.go).
	Components ComponentsConfig `yaml:"components"`

	// envWarnings are the unknown AGENTGATE_* variables LoadConfig saw;
	// unsetRefs the variables the file references (${NAME}) that are unset.
	envWarnings []EnvWarning
	unsetRefs   []string
	// deprecations are the settings under their old names, moved.
	deprecations []string
	// runnableElsewhere, when set, knows the runnables beyond the file
	// that teams and workflows may name (the components'; see
	// gateway_components.go).
	runnableElsewhere func(k core.Kind, id string) bool
}

// knownElsewhere reports whether a runnable beyond the file has kind k and id.
func (c *Config) knownElsewhere(k core.Kind, id string) bool {
	return c.runnableElsewhere != nil && c.runnableElsewhere(k, id)
}

// HTTPConfig configures the HTTP server.
type HTTPConfig struct {
	// BodyLimit is the largest request body in bytes (default 10 MiB).
	BodyLimit int `yaml:"body_limit"`
	// Heartbeat is the SSE silence before a comment frame (default 15s).
	Heartbeat time.Duration `yaml:"heartbeat"`
	// ShutdownTimeout bounds graceful shutdown (default 15s).
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// PublicURL is where clients reach the API (behind a proxy), the
	// server of the OpenAPI document (default "/": where it is served).
	PublicURL string `yaml:"public_url"`
}

// LogConfig configures the access log: one line per request with its
// method, path, status, duration and request id.
type LogConfig struct {
	// Access turns the access log on or off (default on).
	Access *bool `yaml:"access"`
	// AccessLevel is the level of its lines (default info; with debug they
	// show only at log_level debug).
	AccessLevel string `yaml:"access_level"`
}

// LimitsConfig bounds what a request may carry.
type LimitsConfig struct {
	// MaxMessageBytes is the largest message a run accepts, on every
	// interface (default 8 MiB, below http.body_limit's 10 MiB so that a
	// form with a message of that size fits; -1: no bound). Over it REST
	// answers 413.
	MaxMessageBytes int `yaml:"max_message_bytes"`
}

// RuntimeConfig tunes the Go runtime of the process.
type RuntimeConfig struct {
	// MemoryLimit is the soft memory limit of the process ("512MiB",
	// "2GB", bytes): past it the garbage collector works harder and memory
	// is returned to the system sooner. Empty: GOMEMLIMIT if set, else
	// none.
	MemoryLimit string `yaml:"memory_limit"`
}

// EventLogConfig configures event retention.
type EventLogConfig struct {
	MaxEventsPerRun int           `yaml:"max_events_per_run"`
	Retention       time.Duration `yaml:"retention"`
	// MaxEvents bounds the in-memory log's events in all (finished runs
	// are dropped, earliest finished first); Redis ignores it.
	MaxEvents int `yaml:"max_events"`
	// Prefix of the Redis keys (default "agentgate:"); replicas that share
	// runs use the same prefix.
	Prefix string `yaml:"prefix"`
}

// RunsConfig configures run execution.
type RunsConfig struct {
	// HistoryRuns is how many earlier runs of a session an agent sees.
	HistoryRuns int `yaml:"history_runs"`
	// LeaseTTL is how long an executing run's lease lasts unrenewed; a run
	// whose replica died ends with RunError worker_lost about this long
	// later, or, a background run, is executed again by another replica
	// (default 15s).
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// StoreDelay is the deprecated name of tuning.store_delay, still
	// accepted (moved there with a warning).
	StoreDelay time.Duration `yaml:"store_delay"`
	// DisconnectGrace is how long a foreground run whose client went away
	// (a dropped SSE stream, a closed WebSocket) keeps running before it
	// is cancelled, unless someone follows it by then on any replica
	// (default 10s; negative: cancelled at once). Replicas share it.
	DisconnectGrace time.Duration `yaml:"disconnect_grace"`
	// FinalCacheTTL is the deprecated name of tuning.final_cache_ttl,
	// still accepted (moved there with a warning).
	FinalCacheTTL time.Duration `yaml:"final_cache_ttl"`
	// IdempotencyTTL is how long an Idempotency-Key names the run it
	// created: a retry within it gets that run (default 24h).
	IdempotencyTTL time.Duration `yaml:"idempotency_ttl"`
}

// AuthConfig holds the rest of the authentication settings.
type AuthConfig struct {
	// JWTAlgorithm is the one algorithm accepted: RS256 (default), HS256
	// or ES256.
	JWTAlgorithm string `yaml:"jwt_algorithm"`
	// JWKSFile is a static JWKS with the verification keys.
	JWKSFile string `yaml:"jwks_file"`
	// Audience and Issuer, when set, must match the JWT's aud and iss.
	Audience string `yaml:"audience"`
	Issuer   string `yaml:"issuer"`
	// Leeway for exp/nbf (default 10s).
	Leeway time.Duration `yaml:"leeway"`
	// AllowRemoteWithoutAuth lets auth_mode none listen on a non-loopback
	// address (otherwise serve refuses).
	AllowRemoteWithoutAuth bool `yaml:"allow_remote_without_auth"`
	// RateLimit is per principal (or client IP when anonymous); 0: off.
	RateLimit RateLimitConfig `yaml:"rate_limit"`
	// CORSOrigins are the browser origins allowed to call the API.
	CORSOrigins []string `yaml:"cors_origins"`
}

// RateLimitConfig is a token bucket per principal.
type RateLimitConfig struct {
	RPS   float64 `yaml:"rps"`
	Burst int     `yaml:"burst"`
}

// QueueConfig configures the durable queue of background runs (River, on
// the state database).
type QueueConfig struct {
	// Workers bounds the background runs this replica executes at once
	// (default 10).
	Workers int `yaml:"workers"`
	// RescueAfter is how long a background run's job may go without its
	// worker's heartbeat before another replica executes it again, when
	// the run's lease did not already say its executor is gone (default
	// 1m; keep it above runs.lease_ttl).
	RescueAfter time.Duration `yaml:"rescue_after"`
	// PollInterval is the deprecated name of tuning.queue_poll_interval,
	// still accepted (moved there with a warning).
	PollInterval time.Duration `yaml:"poll_interval"`
	// MaxAttempts bounds how often a run's job is tried (default 5).
	MaxAttempts int `yaml:"max_attempts"`
}

// TuningConfig holds the engine's and the queue's internal knobs. Their
// defaults suit every deployment; they exist for tests and benchmarks, and
// may change or go without notice. Zero values take the defaults.
type TuningConfig struct {
	// StoreDelay is how long a run nobody else can see yet may execute
	// before it is first stored: a blocking run (stream=false), or any
	// foreground run with the in-memory event log. One that ends sooner is
	// stored once, in its final state, with its events appended at once
	// (default 1s; a negative value stores every run before it starts).
	StoreDelay time.Duration `yaml:"store_delay"`
	// FinalCacheTTL is how long a replica answers a run that has ended
	// from memory after reading it (replays of finished runs, polling):
	// a deletion through another replica shows there within it (default
	// 1s; a negative value reads the database every time).
	FinalCacheTTL time.Duration `yaml:"final_cache_ttl"`
	// QueuePollInterval is how often the queue's workers look for new jobs
	// (default 200ms on SQLite, 1s on Postgres, which is also notified).
	QueuePollInterval time.Duration `yaml:"queue_poll_interval"`
}

// moveTuning moves the tuning knobs set under their old names (runs.*,
// queue.*) to tuning:, each with a deprecation warning; the new name wins
// when both are set. The old fields are cleared, so moving twice (LoadConfig,
// then New) warns once.
func (c *Config) moveTuning() {
	for _, k := range []struct {
		old, new string
		from, to *time.Duration
	}{
		{"runs.store_delay", "tuning.store_delay", &c.Runs.StoreDelay, &c.Tuning.StoreDelay},
		{"runs.final_cache_ttl", "tuning.final_cache_ttl", &c.Runs.FinalCacheTTL, &c.Tuning.FinalCacheTTL},
		{"queue.poll_interval", "tuning.queue_poll_interval", &c.Queue.PollInterval, &c.Tuning.QueuePollInterval},
	} {
		if *k.from == 0 {
			continue
		}
		if *k.to == 0 {
			*k.to = *k.from
			c.deprecations = append(c.deprecations, k.old+" is deprecated: it is an internal knob, now "+k.new+" (the default suits every deployment)")
		} else {
			c.deprecations = append(c.deprecations, k.old+" is ignored: "+k.new+" is set")
		}
		*k.from = 0
	}
}

// Deprecations are the warnings about settings under deprecated names.
func (c *Config) Deprecations() []string { return c.deprecations }

// EgressConfig restricts the HTTP calls the gateway makes to URLs a caller
// chose (A2A push webhooks, HTTP tools whose host the arguments choose):
// loopback, private, link-local, multicast, CGNAT and cloud-metadata
// addresses are refused unless listed in Allow, checked on the address
// actually dialled and on every redirect.
type EgressConfig struct {
	// Allow lists the internal destinations that may be called anyway:
	// CIDRs or addresses (any port: 10.0.0.0/8, 127.0.0.1), ip:port
	// (127.0.0.1:9000, [::1]:9000), host names (hooks.internal.example,
	// trusted whatever they resolve to), host:port, and *.domain for its
	// subdomains. AGENTGATE_EGRESS_ALLOW takes a comma-separated list.
	Allow []string `yaml:"allow"`
	// MaxRedirects bounds the redirects one call follows (default 5;
	// negative: none).
	MaxRedirects int `yaml:"max_redirects"`
}

// ModelConfig declares a model agents refer to by name.
type ModelConfig struct {
	Provider string `yaml:"provider"` // openai | anthropic | scripted
	Model    string `yaml:"model"`
	// BaseURL is the API root: any OpenAI-compatible server for openai
	// (Ollama: http://127.0.0.1:11434/v1).
	BaseURL string `yaml:"base_url"`
	// APIKey defaults to OPENAI_API_KEY / ANTHROPIC_API_KEY.
	APIKey string `yaml:"api_key"`
	// Timeout bounds one model request (default 120s).
	Timeout time.Duration `yaml:"timeout"`
	// MaxRetries of a request failing with 429/5xx, honouring
	// Retry-After (default 2; 0: none).
	MaxRetries *int `yaml:"max_retries"`
	// MaxTokens caps a reply (anthropic default 4096).
	MaxTokens   int64    `yaml:"max_tokens"`
	Temperature *float64 `yaml:"temperature"`
	// ThinkingBudget turns on anthropic's extended thinking.
	ThinkingBudget int64 `yaml:"thinking_budget"`
	// Headers are sent with every request.
	Headers map[string]string `yaml:"headers"`
	// Scripted provider settings.
	Chunks     int            `yaml:"chunks"`
	ChunkDelay time.Duration  `yaml:"chunk_delay"`
	Script     []ScriptedRule `yaml:"script"`
}

// ScriptedRule is one rule of a scripted model.
type ScriptedRule struct {
	Match         string         `yaml:"match"`
	System        string         `yaml:"system"`
	ToolCalls     []ScriptedCall `yaml:"tool_calls"`
	Reply         string         `yaml:"reply"`
	RejectedReply string         `yaml:"rejected_reply"`
	Error         string         `yaml:"error"`
}

// ScriptedCall is a scripted tool call.
type ScriptedCall struct {
	Name      string         `yaml:"name"`
	Arguments map[string]any `yaml:"arguments"`
}

// MCPServerConfig declares an external MCP server; the mcptool package
// owns it.
type MCPServerConfig = mcptool.Settings

// HTTPToolConfig declares a tool that calls an HTTP API.
type HTTPToolConfig struct {
	Description string `yaml:"description"`
	// Parameters is the JSON Schema of the arguments object.
	Parameters map[string]any `yaml:"parameters"`
	Method     string         `yaml:"method"`
	// URL is an RFC 6570 template: https://api.example.com/{city}{?units}.
	// When the arguments choose the host ({+url}, http://{host}/), calls
	// follow the egress rules (internal addresses need egress.allow).
	URL string `yaml:"url"`
	// Headers are sent with every call; use ${ENV} for secrets.
	Headers map[string]string `yaml:"headers"`
	// Body is a Go text/template over the arguments ({{json .city}}).
	Body             string        `yaml:"body"`
	Timeout          time.Duration `yaml:"timeout"`
	MaxResponseBytes int64         `yaml:"max_response_bytes"`
}

// AgentConfig declares a built-in agent, or with Remote an agent that
// lives elsewhere.
type AgentConfig struct {
	ID           string    `yaml:"id"`
	Name         string    `yaml:"name"`
	Description  string    `yaml:"description"`
	Model        string    `yaml:"model"`
	Instructions string    `yaml:"instructions"`
	Tools        []ToolRef `yaml:"tools"`
	MaxTurns     int       `yaml:"max_turns"`
	// Memory gives the agent memory of its users (config_agent_hooks.go).
	Memory *AgentMemoryConfig `yaml:"memory"`
	// SessionSummaries summarises the session after each run, with the
	// memory block's model or the agent's (SessionSummaryStarted /
	// SessionSummaryCompleted; the session's session_summary).
	SessionSummaries bool `yaml:"session_summaries"`
	// Knowledge names the agent's knowledge base (an id under knowledge);
	// SearchKnowledge (default true with one) gives the model a tool to
	// search it, AddReferences puts the best chunks for the user's message
	// in its instructions, KnowledgeMaxResults bounds a search (default 5).
	Knowledge           string `yaml:"knowledge"`
	SearchKnowledge     *bool  `yaml:"search_knowledge"`
	AddReferences       bool   `yaml:"add_references"`
	KnowledgeMaxResults int    `yaml:"knowledge_max_results"`
	// Remote makes the agent a remote A2A or AgentOS agent (core/remote):
	// it then has no model, instructions or tools of its own.
	Remote *RemoteAgentConfig `yaml:"remote"`
}

// RemoteAgentConfig points an agent at a remote A2A agent (its agent card
// URL) or at an agent of a remote AgentOS-compatible server (another
// agentgate too). Exactly one of A2A and AgentOS is set.
type RemoteAgentConfig struct {
	// A2A is the agent card's URL (http://host/.well-known/agent-card.json).
	A2A string `yaml:"a2a"`
	// AgentOS is the server and the agent's id there.
	AgentOS *RemoteAgentOSConfig `yaml:"agentos"`
	// Headers are sent with every request to the remote; use ${ENV} for
	// credentials.
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds connecting and each wait for the remote (its answer,
	// the next bytes of its stream); default 60s.
	Timeout time.Duration `yaml:"timeout"`
}

// RemoteAgentOSConfig is a remote AgentOS server's base URL and agent id.
type RemoteAgentOSConfig struct {
	URL     string `yaml:"url"`
	AgentID string `yaml:"agent_id"`
}

// validateRemote checks agents[i]'s remote block; errors name the field.
func (a AgentConfig) validateRemote(i int) []error {
	where := fmt.Sprintf("agents[%d] (%s): remote", i, a.ID)
	r := a.Remote
	var errs []error
	if a.Model != "" || len(a.Tools) > 0 || a.Instructions != "" || a.MaxTurns != 0 {
		errs = append(errs, fmt.Errorf("%s: a remote agent has no model, instructions, tools or max_turns of its own", where))
	}
	switch {
	case r.A2A == "" && r.AgentOS == nil:
		errs = append(errs, fmt.Errorf("%s: set a2a (an agent card URL) or agentos {url, agent_id}", where))
	case r.A2A != "" && r.AgentOS != nil:
		errs = append(errs, fmt.Errorf("%s: set only one of a2a and agentos", where))
	case r.A2A != "":
		if _, err := remote.CheckURL(r.A2A); err != nil {
			errs = append(errs, fmt.Errorf("%s.a2a: %w", where, err))
		}
	default:
		if _, err := remote.CheckURL(r.AgentOS.URL); err != nil {
			errs = append(errs, fmt.Errorf("%s.agentos.url: %w", where, err))
		}
		if r.AgentOS.AgentID == "" {
			errs = append(errs, fmt.Errorf("%s.agentos.agent_id: the id of the agent on that server is required", where))
		}
	}
	if r.Timeout < 0 {
		errs = append(errs, fmt.Errorf("%s.timeout: must not be negative (0 takes the default, 60s)", where))
	}
	for k := range r.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			errs = append(errs, fmt.Errorf("%s.headers: %q is not a header name", where, k))
		}
	}
	return errs
}

// remoteConfig is the core/remote config of a remote agent entry.
func (a AgentConfig) remoteConfig() remote.Config {
	rc := remote.Config{ID: a.ID, Name: a.Name, Description: a.Description, A2A: a.Remote.A2A,
		Headers: a.Remote.Headers, Timeout: a.Remote.Timeout}
	if os := a.Remote.AgentOS; os != nil {
		rc.AgentOS, rc.AgentID = os.URL, os.AgentID
	}
	return rc
}

// ToolRef names a tool of an agent, optionally with human-in-the-loop
// flags. In YAML it is a name (`calculator`: a built-in or an http_tools
// entry), a mapping (`{name: calculator, requires_confirmation: true}`),
// `{mcp_server: fs}` for every tool of an MCP server, or
// `{mcp_server: fs, name: fs_write_file, requires_confirmation: true}` for
// flags on one of them (named as the model sees it, with the prefix).
type ToolRef struct {
	Name                 string   `yaml:"name"`
	MCPServer            string   `yaml:"mcp_server"`
	RequiresConfirmation bool     `yaml:"requires_confirmation"`
	RequiresUserInput    bool     `yaml:"requires_user_input"`
	UserInputFields      []string `yaml:"user_input_fields"`
	ExternalExecution    bool     `yaml:"external_execution"`
	// Approval is required (an approver resolves the call before the run
	// goes on) or audit (the decision on its pause is recorded); see
	// core/approval.go. AutoContinue continues the run once resolved;
	// ExpiresIn expires an unresolved approval.
	Approval     string        `yaml:"approval"`
	AutoContinue bool          `yaml:"auto_continue"`
	ExpiresIn    time.Duration `yaml:"expires_in"`
}

// Flags are the tool's human-in-the-loop flags.
func (t ToolRef) Flags() tool.Flags {
	return tool.Flags{
		RequiresConfirmation: t.RequiresConfirmation, RequiresUserInput: t.RequiresUserInput,
		UserInputFields: t.UserInputFields, ExternalExecution: t.ExternalExecution,
		Approval: core.ApprovalType(t.Approval), AutoContinue: t.AutoContinue, ApprovalExpiresIn: t.ExpiresIn,
	}
}

// UnmarshalYAML accepts a plain name or a strict mapping.
func (t *ToolRef) UnmarshalYAML(b []byte) error {
	var name string
	if err := yaml.Unmarshal(b, &name); err == nil && !bytes.ContainsAny(b, ":{") {
		t.Name = name
		return nil
	}
	type plain ToolRef
	var p plain
	if err := yaml.UnmarshalWithOptions(b, &p, yaml.Strict(), yaml.DisallowUnknownField()); err != nil {
		return err
	}
	*t = ToolRef(p)
	return nil
}

// Defaults of the operator interface.
const (
	DefaultAddr = "127.0.0.1:7777"
)

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// ParseConfig decodes YAML strictly: unknown keys are errors that name the
// line. ${NAME} is replaced by the environment variable NAME.
func ParseConfig(data []byte) (cfg *Config, err error) {
	// goccy/go-yaml v1.19.2 panics on some malformed input (found by
	// FuzzParseConfig, e.g. "agents: !000 0000"); report it as an error.
	defer func() {
		if r := recover(); r != nil {
			cfg, err = nil, fmt.Errorf("config: malformed YAML (%v)", r)
		}
	}()
	data = envRef.ReplaceAllFunc(data, func(m []byte) []byte {
		return []byte(os.Getenv(string(envRef.FindSubmatch(m)[1])))
	})
	var c Config
	if len(bytes.TrimSpace(data)) > 0 {
		if err := yaml.UnmarshalWithOptions(data, &c, yaml.Strict(), yaml.DisallowUnknownField()); err != nil {
			return nil, fmt.Errorf("config: %s", yaml.FormatError(err, false, true))
		}
	}
	return &c, nil
}

// LoadConfig reads the config file (the embedded default when path is
// empty), applies AGENTGATE_* environment overrides and defaults, and
// validates the result.
func LoadConfig(path string) (*Config, error) {
	data := configs.Default
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		data = b
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		if path != "" {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, err
	}
	if err := cfg.ApplyEnv(os.LookupEnv); err != nil {
		return nil, err
	}
	refs := map[string]bool{}
	for _, m := range envRef.FindAllSubmatch(data, -1) {
		name := string(m[1])
		if _, set := os.LookupEnv(name); !set && !refs[name] {
			cfg.unsetRefs = append(cfg.unsetRefs, name)
		}
		refs[name] = true
	}
	cfg.envWarnings = unknownEnv(os.Environ(), refs)
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func (c *Config) applyDefaults() {
	c.moveTuning()
	if c.Name == "" {
		c.Name = "agentgate"
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = DefaultDatabaseURL()
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.AuthMode == "" {
		c.AuthMode = "none"
	}
	if c.HTTP.ShutdownTimeout <= 0 {
		c.HTTP.ShutdownTimeout = 15 * time.Second
	}
}

// ApplyEnv sets every scalar field for which AGENTGATE_<YAML PATH> is set.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	return applyEnv(reflect.ValueOf(c).Elem(), "AGENTGATE", lookup)
}

var durationType = reflect.TypeOf(time.Duration(0))

func applyEnv(v reflect.Value, prefix string, lookup func(string) (string, bool)) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			if err := applyEnv(fv, name, lookup); err != nil {
				return err
			}
			continue
		}
		val, ok := lookup(name)
		if !ok {
			continue
		}
		switch {
		case f.Type == durationType:
			d, err := time.ParseDuration(val)
			if err != nil {
				return fmt.Errorf("%s: %q is not a duration (like 15s)", name, val)
			}
			fv.SetInt(int64(d))
		case f.Type.Kind() == reflect.String:
			fv.SetString(val)
		case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Bool:
			b, err := strconv.ParseBool(val)
			if err != nil {
				return fmt.Errorf("%s: %q is not true or false", name, val)
			}
			fv.Set(reflect.ValueOf(&b))
		case f.Type.Kind() == reflect.Float64:
			n, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return fmt.Errorf("%s: %q is not a number", name, val)
			}
			fv.SetFloat(n)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String:
			var parts []string
			for _, p := range strings.Split(val, ",") {
				if p = strings.TrimSpace(p); p != "" {
					parts = append(parts, p)
				}
			}
			fv.Set(reflect.ValueOf(parts))
		case f.Type.Kind() == reflect.Int:
			n, err := strconv.Atoi(val)
			if err != nil {
				return fmt.Errorf("%s: %q is not an integer", name, val)
			}
			fv.SetInt(int64(n))
		case f.Type.Kind() == reflect.Bool:
			b, err := strconv.ParseBool(val)
			if err != nil {
				return fmt.Errorf("%s: %q is not true or false", name, val)
			}
			fv.SetBool(b)
		}
	}
	return nil
}

// Validate checks references and values.
func (c *Config) Validate() error {
	var errs []error
	errs = append(errs, c.Schedules.Validate())
	errs = append(errs, c.Memory.Validate(c.Models))
	errs = append(errs, c.Observability.Validate())
	errs = append(errs, c.Media.Validate())
	switch c.AuthMode {
	case "", "none", "key", "jwt":
	default:
		errs = append(errs, fmt.Errorf("auth_mode must be none, key or jwt, not %q", c.AuthMode))
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		errs = append(errs, fmt.Errorf("redis_url %q: want redis://HOST:PORT/DB or rediss://…", redactpkg.URL(c.RedisURL)))
	}
	if c.DatabaseURL != "" && storage.Kind(c.DatabaseURL) == "" {
		errs = append(errs, fmt.Errorf("database_url %q: want sqlite://FILE or postgres://…", redactpkg.URL(c.DatabaseURL)))
	}
	if c.AuthMode == "key" || c.AuthMode == "jwt" {
		// Build the authenticator once, so `config check` reports a bad key.
		if _, err := newAuthenticator(c, nil); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.Approvals.Validate(); err != nil {
		errs = append(errs, err)
	}
	switch c.UserIsolation {
	case "", "true", "false":
	default:
		errs = append(errs, fmt.Errorf("user_isolation must be true or false, not %q", c.UserIsolation))
	}
	if c.Runs.IdempotencyTTL < 0 {
		errs = append(errs, errors.New("runs.idempotency_ttl must not be negative (0 takes the default, 24h)"))
	}
	if _, err := ParseSize(c.Runtime.MemoryLimit); err != nil {
		errs = append(errs, fmt.Errorf("runtime.memory_limit: %w", err))
	}
	if c.Limits.MaxMessageBytes < -1 {
		errs = append(errs, errors.New("limits.max_message_bytes must be -1 (no bound), 0 (the default) or positive"))
	}
	if c.EventLog.MaxEventsPerRun < 0 || c.EventLog.MaxEvents < 0 || c.EventLog.Retention < 0 {
		errs = append(errs, errors.New("event_log: max_events_per_run, max_events and retention must not be negative (0 takes the default)"))
	}
	switch c.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level must be debug, info, warn or error, not %q", c.LogLevel))
	}
	if _, err := egress.ParseAllow(c.Egress.Allow); err != nil {
		errs = append(errs, err)
	}
	switch c.Log.AccessLevel {
	case "", "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.access_level must be debug, info, warn or error, not %q", c.Log.AccessLevel))
	}
	for _, name := range slices.Sorted(maps.Keys(c.Models)) {
		m := c.Models[name]
		switch m.Provider {
		case "scripted", "openai", "anthropic":
			if m.Provider != "scripted" && m.Model == "" {
				errs = append(errs, fmt.Errorf("models.%s: model is required (the provider's model id)", name))
			}
			if m.MaxRetries != nil && *m.MaxRetries < 0 {
				errs = append(errs, fmt.Errorf("models.%s: max_retries must not be negative", name))
			}
			if m.Provider == "anthropic" && m.ThinkingBudget > 0 && m.MaxTokens > 0 && m.MaxTokens <= m.ThinkingBudget {
				errs = append(errs, fmt.Errorf("models.%s: max_tokens must exceed thinking_budget", name))
			}
		default:
			errs = append(errs, fmt.Errorf("models.%s: provider must be scripted, openai or anthropic, not %q", name, m.Provider))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.MCPServers)) {
		errs = append(errs, c.MCPServers[name].Validate(name))
	}
	for _, name := range slices.Sorted(maps.Keys(c.HTTPTools)) {
		if _, builtin := tool.Builtins()[name]; builtin {
			errs = append(errs, fmt.Errorf("http_tools.%s: the name of a built-in tool", name))
			continue
		}
		if _, err := buildHTTPTool(name, c.HTTPTools[name], nil); err != nil {
			errs = append(errs, fmt.Errorf("http_tools.%s: %w", name, err))
		}
	}
	// The interfaces' own settings, checked here rather than when each is
	// mounted, so that `config check` refuses exactly what serve refuses.
	if !c.WS.Disabled {
		errs = append(errs, c.WS.Validate())
	}
	if !c.A2A.Disabled {
		_, err := c.A2A.Validate(c.agentIDs())
		errs = append(errs, err)
	}
	errs = append(errs, c.Slack.Validate(os.LookupEnv))
	errs = append(errs, c.validateTeams()...)
	errs = append(errs, c.validateKnowledge()...)
	seen := map[string]bool{}
	for i, a := range c.Agents {
		if a.ID == "" {
			errs = append(errs, fmt.Errorf("agents[%d]: id is required", i))
			continue
		}
		if seen[a.ID] {
			errs = append(errs, fmt.Errorf("agents[%d]: id %q is used twice", i, a.ID))
		}
		seen[a.ID] = true
		if a.Remote != nil {
			errs = append(errs, a.validateRemote(i)...)
			continue
		}
		if _, ok := c.Models[a.Model]; !ok {
			errs = append(errs, fmt.Errorf("agents[%d] (%s): model %q is not declared under models", i, a.ID, a.Model))
		}
		errs = append(errs, c.validateAgentHooks(i, a)...)
		for _, t := range a.Tools {
			switch {
			case t.MCPServer != "":
				if _, ok := c.MCPServers[t.MCPServer]; !ok {
					errs = append(errs, fmt.Errorf("agents[%d] (%s): mcp_server %q is not declared under mcp_servers", i, a.ID, t.MCPServer))
				}
			case t.Name == "":
				errs = append(errs, fmt.Errorf("agents[%d] (%s): a tool needs a name or an mcp_server", i, a.ID))
			case !c.knownTool(t.Name):
				errs = append(errs, fmt.Errorf("agents[%d] (%s): unknown tool %q (built-ins: current_time, calculator; or declare it under http_tools)", i, a.ID, t.Name))
			}
			if len(t.UserInputFields) > 0 && !t.RequiresUserInput {
				errs = append(errs, fmt.Errorf("agents[%d] (%s): tool %q lists user_input_fields without requires_user_input", i, a.ID, t.Name))
			}
			if err := t.Flags().Validate(); err != nil {
				errs = append(errs, fmt.Errorf("agents[%d] (%s): tool %q: %w", i, a.ID, t.Name+t.MCPServer, err))
			}
			if t.ExpiresIn > 0 && t.ExpiresIn < time.Second {
				errs = append(errs, fmt.Errorf("agents[%d] (%s): tool %q: expires_in must be at least 1s", i, a.ID, t.Name))
			}
			if t.MCPServer != "" && t.Name == "" && (t.RequiresConfirmation || t.RequiresUserInput || t.ExternalExecution || t.Approval != "") {
				errs = append(errs, fmt.Errorf("agents[%d] (%s): flags on mcp_server %q need the name of one of its tools", i, a.ID, t.MCPServer))
			}
		}
	}
	errs = append(errs, c.validateWorkflows()...)
	errs = append(errs, c.Approvals.validateWebhook()...)
	return errors.Join(errs...)
}

// agentIDs are the ids of the configured agents.
func (c *Config) agentIDs() map[string]bool {
	ids := map[string]bool{}
	for _, a := range c.Agents {
		ids[a.ID] = true
	}
	return ids
}

// ParseSize parses a size in bytes: a number with an optional unit, B, KB,
// MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), as GOMEMLIMIT
// takes them. Empty is 0.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	num := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.TrimSpace(s[len(num):])
	mult, ok := map[string]int64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size (like 512MiB or 2GB)", s)
	}
	return n * mult, nil
}
