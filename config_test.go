package agentgate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
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
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("name: ${AG_TEST_NAME}\nmodels: {m: {provider: scripted}}\nagents: [{id: a, model: m, tools: [calculator]}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "from-env" || cfg.Addr != "127.0.0.1:9999" || cfg.EventLog.MaxEventsPerRun != 42 || cfg.EventLog.Retention != 90*time.Second {
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
		"models: {m: {provider: nope}}\nagents: [{id: a, model: m}]":                        "provider",
		"models: {m: {provider: scripted}}\nagents: [{id: a, model: other}]":                "not declared",
		"models: {m: {provider: scripted}}\nagents: [{id: a, model: m, tools: [rm_rf]}]":    "unknown tool",
		"models: {m: {provider: scripted}}\nagents: [{id: a, model: m}, {id: a, model: m}]": "twice",
		"auth_mode: basic":                 "auth_mode must be",
		"redis_url: http://127.0.0.1:6379": "redis_url",
		"database_url: mysql://x":          "database_url",
		"log_level: loud":                  "log_level",
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

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("name: x\nagents: [{id: a, model: m}]\n"))
	f.Add([]byte("models: {m: {provider: scripted, chunk_delay: 5ms, script: [{match: a, tool_calls: [{name: t, arguments: {x: 1}}]}]}}"))
	f.Add([]byte("agents:\n  - id: a\n    tools: [calculator, {name: current_time, requires_confirmation: true}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := ParseConfig(b)
		if err == nil {
			_ = cfg.Validate()
		}
	})
}
