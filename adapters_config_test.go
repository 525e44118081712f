package agentgate

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `agentgate config check` (LoadConfig) refuses every invalid interface
// setting that serve (New) refuses, with the same message, and accepts
// what serve accepts.
func TestConfigCheckRefusesWhatServeRefuses(t *testing.T) {
	t.Setenv("AGENTGATE_TEST_UNSET_SECRET", "")
	os.Unsetenv("AGENTGATE_TEST_UNSET_SECRET")
	const base = "models: {m: {provider: scripted}}\nagents: [{id: a, model: m}]\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"ws queue_size", "ws: {queue_size: -5}", "ws.queue_size must not be negative"},
		{"ws max_frame_bytes", "ws: {max_frame_bytes: -1}", "ws.max_frame_bytes must not be negative"},
		{"ws max_runs", "ws: {max_runs: -1}", "ws.max_runs must not be negative"},
		{"ws ping_interval", "ws: {ping_interval: -1s}", "ws.ping_interval must not be negative"},
		{"ws pong_timeout", "ws: {pong_timeout: -1s}", "ws.pong_timeout must not be negative"},
		{"ws write_timeout", "ws: {write_timeout: -1s}", "ws.write_timeout must not be negative"},
		{"ws slow_consumer_timeout", "ws: {slow_consumer_timeout: -1s}", "ws.slow_consumer_timeout must not be negative"},
		{"ws disabled", "ws: {disabled: true, queue_size: -5}", ""},
		{"a2a public_url scheme", "a2a: {public_url: 'ftp://x'}", `a2a.public_url "ftp://x"`},
		{"a2a public_url host", "a2a: {public_url: 'https://'}", `a2a.public_url "https://"`},
		{"a2a card_max_age", "a2a: {card_max_age: -1s}", "a2a: card_max_age"},
		{"a2a push max_attempts", "a2a: {push: {max_attempts: -1}}", "a2a: card_max_age and push.max_attempts"},
		{"a2a push timeout", "a2a: {push: {timeout: -1s}}", "a2a: card_max_age and push.max_attempts"},
		{"a2a skill without id", "a2a: {agents: {a: {skills: [{name: x}]}}}", "a2a.agents.a.skills[0]: id and name are required"},
		{"a2a unknown agent is a warning", "a2a: {agents: {zz: {skills: [{id: s, name: S}]}}}", ""},
		{"a2a disabled", "a2a: {disabled: true, public_url: 'ftp://x'}", ""},
		{"slack update_interval", "slack: {update_interval: -1s}", "slack.update_interval must not be negative"},
		{"slack without bot token", "slack: {signing_secret: s}", `the Slack app "default" has no bot token`},
		{"slack without signing secret", "slack: {bot_token: xoxb-1}", "has no signing secret"},
		{"slack socket mode without app token", "slack: {bot_token: xoxb-1, socket_mode: true}", "signing secret or app token (socket mode)"},
		{"slack app without agent", "slack: {apps: [{name: x}]}", "slack.apps[0] (x): agent is required"},
		{"slack app secret env unset", "slack: {apps: [{agent: a, bot_token: xoxb-1, signing_secret_env: AGENTGATE_TEST_UNSET_SECRET}]}",
			"environment variable AGENTGATE_TEST_UNSET_SECRET is not set"},
		{"slack complete", "slack: {signing_secret: s, bot_token: xoxb-1, agent: a}", ""},
		{"slack approvals without approvers", "slack: {signing_secret: s, bot_token: xoxb-1, agent: a, approvals: {channel: C1}}", "has no approvers"},
		{"slack app approvals bad user", "slack: {apps: [{agent: a, bot_token: xoxb-1, signing_secret: s, approvals: {channel: C1, approvers: {alice: a}}}]}",
			`slack.apps[0] (a).approvals.approvers: "alice" is not a Slack user id`},
		{"slack approvals channel", "slack: {signing_secret: s, bot_token: xoxb-1, agent: a, approvals: {channel: C1, approvers: {U1: alice}}}", ""},
		{"approvals webhook scheme", "approvals: {webhook: {url: 'ftp://hooks.example.com/x'}}", "approvals.webhook.url: the scheme must be http or https"},
		{"approvals webhook events", "approvals: {webhook: {url: 'https://hooks.example.com/x', events: [sent]}}", `approvals.webhook.events: "sent"`},
		{"approvals webhook complete", "approvals: {webhook: {url: 'https://hooks.example.com/x', secret: s, events: [created], max_attempts: 3}}", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			yaml := base + "database_url: sqlite://" + filepath.Join(dir, "s.db") + "\n" + tc.yaml + "\n"
			path := filepath.Join(dir, "agentgate.yaml")
			if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, checkErr := LoadConfig(path)
			cfg, err := ParseConfig([]byte(yaml))
			if err != nil {
				t.Fatal(err)
			}
			g, serveErr := New(context.Background(), cfg, Options{Logger: slog.New(slog.DiscardHandler)})
			if serveErr == nil {
				_ = g.Shutdown(context.Background())
			}
			for what, err := range map[string]error{"config check": checkErr, "serve": serveErr} {
				switch {
				case tc.want == "" && err != nil:
					t.Errorf("%s refused a valid setting: %v", what, err)
				case tc.want != "" && err == nil:
					t.Errorf("%s accepted %s", what, tc.yaml)
				case tc.want != "" && !strings.Contains(err.Error(), tc.want):
					t.Errorf("%s: error %q, want it to mention %q", what, err, tc.want)
				}
			}
		})
	}
}

// The tuning knobs' old names (runs.store_delay, runs.final_cache_ttl,
// queue.poll_interval, in YAML or as variables) still work, moved under
// tuning: with a deprecation warning; the new name wins over the old.
func TestTuningKnobsOldNames(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		env        map[string]string
		want       TuningConfig
		warnings   []string
	}{
		{name: "new names", yaml: "tuning: {store_delay: -1s, final_cache_ttl: 2s, queue_poll_interval: 50ms}",
			want: TuningConfig{StoreDelay: -time.Second, FinalCacheTTL: 2 * time.Second, QueuePollInterval: 50 * time.Millisecond}},
		{name: "old names", yaml: "runs: {store_delay: -1s, final_cache_ttl: 2s}\nqueue: {poll_interval: 50ms}",
			want:     TuningConfig{StoreDelay: -time.Second, FinalCacheTTL: 2 * time.Second, QueuePollInterval: 50 * time.Millisecond},
			warnings: []string{"runs.store_delay is deprecated", "runs.final_cache_ttl is deprecated", "queue.poll_interval is deprecated"}},
		{name: "old variable", env: map[string]string{"AGENTGATE_RUNS_STORE_DELAY": "3s"},
			want: TuningConfig{StoreDelay: 3 * time.Second}, warnings: []string{"runs.store_delay is deprecated: it is an internal knob, now tuning.store_delay"}},
		{name: "new variable", env: map[string]string{"AGENTGATE_TUNING_QUEUE_POLL_INTERVAL": "70ms"},
			want: TuningConfig{QueuePollInterval: 70 * time.Millisecond}},
		{name: "both", yaml: "runs: {store_delay: 5s}\ntuning: {store_delay: 4s}",
			want: TuningConfig{StoreDelay: 4 * time.Second}, warnings: []string{"runs.store_delay is ignored: tuning.store_delay is set"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "agentgate.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Tuning != tc.want {
				t.Errorf("tuning %+v, want %+v", cfg.Tuning, tc.want)
			}
			got := cfg.Deprecations()
			if len(got) != len(tc.warnings) {
				t.Fatalf("warnings %q, want %d", got, len(tc.warnings))
			}
			for i, w := range tc.warnings {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("warning %q, want it to start %q", got[i], w)
				}
			}
			// New applies the defaults again: the warnings are not repeated.
			cfg.DatabaseURL = "sqlite://" + filepath.Join(dir, "s.db")
			g, err := New(t.Context(), cfg, Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Shutdown(context.Background())
			if len(g.Config().Deprecations()) != len(tc.warnings) || g.Config().Tuning != tc.want {
				t.Errorf("after New: tuning %+v, warnings %q", g.Config().Tuning, g.Config().Deprecations())
			}
		})
	}
}
