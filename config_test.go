package agentgate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/storage/memlog"
)

func TestEmbeddedDefaultConfig(t *testing.T) {
	cfg, err := LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != DefaultAddr && os.Getenv("AGENTGATE_ADDR") == "" {
		t.Fatalf("addr %q", cfg.Addr)
	}
	ids := map[string]bool{}
	for _, a := range cfg.Agents {
		ids[a.ID] = true
	}
	if !ids["assistant"] || !ids["approval-demo"] {
		t.Fatalf("demo agents missing: %v", ids)
	}
}

func TestStrictConfigNamesTheLine(t *testing.T) {
	t.Parallel()
	_, err := ParseConfig([]byte("name: x\naddr: 127.0.0.1:1\nbogus_key: 1\n"))
	if err == nil || !strings.Contains(err.Error(), "bogus_key") || !strings.Contains(err.Error(), "3") {
		t.Fatalf("unknown key error = %v", err)
	}
	_, err = ParseConfig([]byte("agents:\n  - id: a\n    model: m\n    tools:\n      - {name: calculator, confirm: true}\n"))
	if err == nil || !strings.Contains(err.Error(), "confirm") {
		t.Fatalf("unknown tool flag error = %v", err)
	}
}

func TestEnvExpansionAndOverrides(t *testing.T) {
	t.Setenv("AG_TEST_NAME", "from-env")
	t.Setenv("AGENTGATE_ADDR", "127.0.0.1:9999")
	t.Setenv("AGENTGATE_EVENT_LOG_MAX_EVENTS_PER_RUN", "42")
	t.Setenv("AGENTGATE_EVENT_LOG_RETENTION", "90s")
	t.Setenv("AGENTGATE_EVENT_LOG_MAX_EVENTS", "5000")
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("name: ${AG_TEST_NAME}\nmodels: {m: {provider: scripted}}\nagents: [{id: a, model: m, tools: [calculator]}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "from-env" || cfg.Addr != "127.0.0.1:9999" || cfg.EventLog.MaxEventsPerRun != 42 || cfg.EventLog.Retention != 90*time.Second || cfg.EventLog.MaxEvents != 5000 {
		t.Fatalf("cfg = %+v", cfg)
	}
	t.Setenv("AGENTGATE_EVENT_LOG_RETENTION", "soon")
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "AGENTGATE_EVENT_LOG_RETENTION") {
		t.Fatalf("bad duration env: %v", err)
	}
}

func TestValidateRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"models: {m: {provider: nope}}\nagents: [{id: a, model: m}]":                                  "provider",
		"models: {m: {provider: scripted}}\nagents: [{id: a, model: other}]":                          "not declared",
		"event_log: {max_events: -1}\nmodels: {m: {provider: scripted}}\nagents: [{id: a, model: m}]": "must not be negative",
		"models: {m: {provider: scripted}}\nagents: [{id: a, model: m, tools: [rm_rf]}]":              "unknown tool",
		"models: {m: {provider: scripted}}\nagents: [{id: a, model: m}, {id: a, model: m}]":           "twice",
		"auth_mode: basic":                 "auth_mode must be",
		"redis_url: http://127.0.0.1:6379": "redis_url",
		"database_url: mysql://x":          "database_url",
		"log_level: loud":                  "log_level",
		"runs: {idempotency_ttl: -1s}":     "runs.idempotency_ttl",
		"models: {m: {provider: openai}}":  "model is required",
		"models: {m: {provider: anthropic, model: c, max_tokens: 100, thinking_budget: 200}}": "thinking_budget",
		"models: {m: {provider: openai, model: x, max_retries: -1}}":                          "max_retries",
		"mcp_servers: {fs: {}}": "exactly one of command",
		"mcp_servers: {fs: {command: x, url: 'http://127.0.0.1:1/mcp'}}":                                                      "exactly one of command",
		"mcp_servers: {fs: {url: 'ftp://x'}}":                                                                                 "url must be http",
		"http_tools: {calculator: {url: 'http://x'}}":                                                                         "built-in",
		"http_tools: {weather: {}}":                                                                                           "http_tools.weather",
		"http_tools: {weather: {url: 'http://x/{city}', method: TELEPORT}}":                                                   "http_tools.weather",
		"models: {m: {provider: scripted}}\nagents: [{id: a, model: m, tools: [{mcp_server: fs}]}]":                           "not declared under mcp_servers",
		"models: {m: {provider: scripted}}\nagents: [{id: a, model: m, tools: [{user_input_fields: [x], name: calculator}]}]": "without requires_user_input",
		"models: {m: {provider: scripted}}\nmcp_servers: {fs: {command: x}}\nagents: [{id: a, model: m, tools: [{mcp_server: fs, requires_confirmation: true}]}]": "need the name",
		"egress: {allow: ['http://10.0.0.1']}": "egress.allow[0]",
		"egress: {allow: ['10.0.0.1:0']}":      "egress.allow[0]",
	}
	for in, want := range cases {
		cfg, err := ParseConfig([]byte(in))
		if err == nil {
			cfg.applyDefaults()
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to mention %q", in, err, want)
		}
	}
}

func TestToolsAndModelsConfig(t *testing.T) {
	t.Setenv("AG_TEST_TOKEN", "s3cret")
	t.Setenv("ANTHROPIC_API_KEY", "test-key")
	cfg, err := ParseConfig([]byte(`
models:
  gpt: {provider: openai, model: gpt-4o-mini, base_url: "http://127.0.0.1:11434/v1", max_retries: 0, timeout: 30s, temperature: 0.2}
  claude: {provider: anthropic, model: claude-sonnet-4-5, max_tokens: 8192, thinking_budget: 2048}
mcp_servers:
  fs: {command: mcp-fs, args: [--root, /tmp], env: {A: b}, call_timeout: 5s}
  web: {url: "https://mcp.example.com/mcp", headers: {Authorization: "Bearer ${AG_TEST_TOKEN}"}, prefix: ""}
http_tools:
  weather:
    description: Current weather of a city.
    parameters: {type: object, required: [city], properties: {city: {type: string}}}
    url: "https://api.example.com/weather{?city}"
    headers: {Authorization: "Bearer ${AG_TEST_TOKEN}"}
    timeout: 3s
    max_response_bytes: 4096
agents:
  - id: a
    model: gpt
    tools:
      - weather
      - {name: calculator, requires_user_input: true, user_input_fields: [expression]}
      - {name: current_time, external_execution: true}
      - {mcp_server: fs}
      - {mcp_server: fs, name: fs_write_file, requires_confirmation: true}
      - {mcp_server: web}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := cfg.HTTPTools["weather"].Headers["Authorization"]; got != "Bearer s3cret" {
		t.Fatalf("header from env = %q", got)
	}
	if cfg.MCPServers["fs"].ToolPrefix("fs") != "fs_" || cfg.MCPServers["web"].ToolPrefix("web") != "" {
		t.Fatal("mcp prefixes: default is the name and _, an explicit empty prefix is none")
	}
	if m := cfg.Models["gpt"]; m.MaxRetries == nil || *m.MaxRetries != 0 || m.Temperature == nil || *m.Temperature != 0.2 {
		t.Fatalf("gpt = %+v", m)
	}
	refs := cfg.Agents[0].Tools
	if !refs[1].RequiresUserInput || refs[1].UserInputFields[0] != "expression" || !refs[2].ExternalExecution || refs[4].MCPServer != "fs" || !refs[4].RequiresConfirmation {
		t.Fatalf("tool refs = %+v", refs)
	}
	for name, mc := range cfg.Models {
		m, err := BuildModel(name, mc)
		if err != nil {
			t.Fatalf("build %s: %v", name, err)
		}
		if m.Provider() != mc.Provider || m.ID() != mc.Model {
			t.Fatalf("%s: built %s/%s", name, m.Provider(), m.ID())
		}
	}
}

func TestEmbeddingAPI(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig([]byte("models: {m: {provider: scripted, script: [{reply: 'hi {{input}}'}]}}\nagents: [{id: a, model: m}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL = "sqlite://" + filepath.Join(t.TempDir(), "s.db")
	ctx := context.Background()
	g, err := New(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(ctx)
	run, err := g.Run(ctx, "a", "there", core.StartParams{})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != core.RunCompleted || run.Content != "hi there" {
		t.Fatalf("run = %+v", run)
	}
	if err := g.RegisterAgent(g.Engine().Agents()[0]); err == nil {
		t.Fatal("duplicate agent accepted")
	}
}

// A configured backend that cannot be reached fails startup with a clear
// message: here an MCP server whose command does not exist, and a model
// without its API key. Nothing is left open (the SQLite file is closed).
func TestStartupFailsFastOnBadToolsAndModels(t *testing.T) {
	t.Setenv("ANTHROPIC_API_KEY", "")
	for name, tc := range map[string]struct{ yaml, want string }{
		"mcp": {"models: {m: {provider: scripted}}\nmcp_servers: {fs: {command: /nonexistent/mcp-server}}\nagents: [{id: a, model: m, tools: [{mcp_server: fs}]}]",
			`mcp server fs`},
		"anthropic key": {"models: {m: {provider: anthropic, model: c}}\nagents: [{id: a, model: m}]", "ANTHROPIC_API_KEY"},
	} {
		cfg, err := ParseConfig([]byte(tc.yaml))
		if err != nil {
			t.Fatal(err)
		}
		cfg.DatabaseURL = "sqlite://" + filepath.Join(t.TempDir(), "s.db")
		g, err := New(context.Background(), cfg, Options{})
		if err == nil {
			_ = g.Shutdown(context.Background())
			t.Fatalf("%s: started", name)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: error %q, want it to mention %q", name, err, tc.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("name: x\nagents: [{id: a, model: m}]\n"))
	f.Add([]byte("models: {m: {provider: scripted, chunk_delay: 5ms, script: [{match: a, tool_calls: [{name: t, arguments: {x: 1}}]}]}}"))
	f.Add([]byte("agents:\n  - id: a\n    tools: [calculator, {name: current_time, requires_confirmation: true}]\n"))
	f.Add([]byte("mcp_servers: {fs: {command: x, args: [a], prefix: ''}}\nhttp_tools: {w: {url: 'http://x/{c}', parameters: {type: object}}}\nagents: [{id: a, tools: [{mcp_server: fs, name: fs_w, requires_user_input: true, user_input_fields: [p]}, w]}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := ParseConfig(b)
		if err == nil {
			_ = cfg.Validate()
		}
	})
}

// Every sample config in configs/ loads and validates.
func TestSampleConfigs(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-test")
	t.Setenv("ANTHROPIC_API_KEY", "test")
	t.Setenv("DOCS_MCP_TOKEN", "t")
	files, err := filepath.Glob("configs/*.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("sample configs: %v %v", files, err)
	}
	for _, f := range files {
		cfg, err := LoadConfig(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for name, mc := range cfg.Models {
			if _, err := BuildModel(name, mc); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
}

func TestOpenBackendsPassesTheEventLogLimits(t *testing.T) {
	t.Parallel()
	cfg := &Config{DatabaseURL: "sqlite://:memory:", EventLog: EventLogConfig{MaxEventsPerRun: 7, Retention: time.Minute, MaxEvents: 70}}
	store, elog, err := openBackends(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	defer elog.Close()
	ml, ok := elog.(*memlog.Log)
	if !ok {
		t.Fatalf("event log %T, want the in-memory log", elog)
	}
	if got := ml.Config(); got.MaxEventsPerRun != 7 || got.Retention != time.Minute || got.MaxEvents != 70 {
		t.Fatalf("memlog config = %+v", got)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "1024": 1024, "512MiB": 512 << 20, "2GB": 2e9, "64 KiB": 64 << 10, "1B": 1} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"x", "12XB", "-5MiB", "1.5GiB", "MiB", "99999999999999TiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
	cfg, err := ParseConfig([]byte("runtime: {memory_limit: lots}\nlimits: {max_message_bytes: -2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "runtime.memory_limit") || !strings.Contains(err.Error(), "limits.max_message_bytes") {
		t.Errorf("Validate: %v", err)
	}
}
