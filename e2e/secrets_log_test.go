package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/adapters/slack/fakeslack"
	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core/model/openai/openaitest"
)

// Secrets of TestNoSecretsInLogs: each is configured somewhere, and none may
// appear in anything the processes print.
const (
	logPGPassword    = "pgPassw0rd-e2e-7f3a"
	logRedisPassword = "redisPassw0rd-e2e-91c2"
	logJWTSecret     = "jwt-hs256-secret-e2e-0123456789abcdef-logs"
	logSlackSecret   = "slack-signing-secret-e2e-5b7d"
	logSlackToken    = "xoxb-e2e-bot-token-3c9e1"
	logOpenAIKey     = "sk-e2e-openai-key-77aa01"
	logToolToken     = "tool-bearer-e2e-4d2f"
	logToolKey       = "tool-api-key-e2e-8e61"
	logMCPHeader     = "mcp-header-secret-e2e-0a0b"
)

// TestNoSecretsInLogs starts real gateways with secrets in every place a
// config holds them (the Postgres URL's password, Redis's, the JWT
// secret, Slack's signing secret and bot token, an OpenAI api_key, HTTP
// tool headers, an MCP server header) at debug level, exercises them
// (startup, authenticated runs through a model and an HTTP tool, upstream
// errors that echo the credentials back, a refused token, a Slack
// request, a service-account token, shutdown; then `config check`,
// `migrate` and a start that fails to reach its database) and fails if
// any configured secret, or a credential the test used, appears in
// anything they printed.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	b := newBackends(t, "")
	pg, err := url.Parse(b.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	pg.User = url.UserPassword(pg.User.Username(), logPGPassword) // trust auth: any password is accepted
	if pg.User.Username() == "" {
		pg.User = url.UserPassword("root", logPGPassword)
	}
	rds := startRedisServerWith(t, logRedisPassword)

	llm := openaitest.NewServer(t)
	// The tool's API echoes the request's credentials in a failure, as
	// some do: what the gateway logs of it must still be masked.
	var toolCalls atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		toolCalls.Add(1)
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, "upstream refused %s / %s", r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"))
	}))
	defer api.Close()
	fake := fakeslack.New()
	defer fake.Close()

	cfg := `log_level: debug
auth_mode: jwt
jwt_key: "` + logJWTSecret + `"
auth:
  jwt_algorithm: HS256
slack:
  signing_secret: "${AG_LOG_SLACK_SECRET}"
  bot_token: "` + logSlackToken + `"
  agent: echo
models:
  gpt:
    provider: openai
    model: gpt-test
    base_url: ` + llm.URL() + `
    api_key: "` + logOpenAIKey + `"
    max_retries: 0
  tooly:
    provider: scripted
    model: tooly-1
    script:
      - tool_calls:
          - name: fetch
            arguments: {q: "x"}
        reply: "tool said {{tool_result}}"
  plain:
    provider: scripted
    model: plain-1
    script:
      - reply: "hello"
mcp_servers:
  remote:
    url: http://127.0.0.1:9/mcp
    headers: {Authorization: "Bearer ` + logMCPHeader + `"}
    connect_timeout: 1s
http_tools:
  fetch:
    description: Fetch something.
    parameters:
      type: object
      properties:
        q: {type: string}
    url: "` + api.URL + `/fetch{?q}"
    headers: {Authorization: "Bearer ` + logToolToken + `", X-Api-Key: "` + logToolKey + `"}
agents:
  - id: gpt
    model: gpt
  - id: tooly
    model: tooly
    tools: [fetch]
  - id: echo
    model: plain
`
	env := func(dir string) []string {
		return []string{
			"AGENTGATE_DATABASE_URL=" + pg.String(),
			"AGENTGATE_REDIS_URL=" + rds.URL(),
			"AGENTGATE_EVENT_LOG_PREFIX=" + b.Prefix,
			"AGENTGATE_LOG_LEVEL=debug",
			"AGENTGATE_SLACK_API_URL=" + fake.URL(),
			"AG_LOG_SLACK_SECRET=" + logSlackSecret,
		}
	}
	var out strings.Builder
	var used []string // credentials the test sent, which must not be logged either
	func() {
		g := launch(t, cfg, env, func(*gateway) {})
		defer func() {
			g.stop()
			out.WriteString(g.Logs())
		}()
		mint := func(sub string, scopes ...string) string {
			tok, err := auth.MintJWT(auth.MintConfig{Algorithm: auth.AlgHS256}, logJWTSecret, sub, scopes, 10*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			used = append(used, tok)
			return tok
		}
		admin := mint("root", "agent_os:admin")
		user := mint("alice", "agents:run")
		sa := createServiceAccount(t, g, admin, "log-bot", "agents:run")
		used = append(used, sa.Token)

		// A model run, then the provider refusing the key (echoing it).
		llm.Push(openaitest.Reply{Text: "fine"},
			openaitest.Reply{Error: &openaitest.Error{Status: 401, Message: "Incorrect API key provided: " + logOpenAIKey, Type: "invalid_request_error"}})
		for _, tok := range []string{user, sa.Token} {
			_, body := call(t, g, tok, http.MethodPost, "/agents/gpt/runs", formBody(url.Values{"message": {"hi"}, "stream": {"false"}}))
			if !strings.Contains(string(body), `"status"`) {
				t.Fatalf("run: %s", body)
			}
		}
		// The HTTP tool, failing with the credentials in its answer.
		want(t, g, user, http.MethodPost, "/agents/tooly/runs", formBody(url.Values{"message": {"go"}, "stream": {"false"}}), http.StatusOK)
		if toolCalls.Load() == 0 {
			t.Fatal("the HTTP tool was not called")
		}
		// A background run, a refused token, a query-string token, a
		// wrong and a right Slack signature.
		want(t, g, user, http.MethodPost, "/agents/echo/runs", formBody(url.Values{"message": {"bg"}, "background": {"true"}, "stream": {"false"}}), http.StatusAccepted)
		want(t, g, logJWTSecret, http.MethodGet, "/agents", nil, http.StatusUnauthorized)
		want(t, g, "", http.MethodGet, "/agents?token="+url.QueryEscape(admin)+"&password="+logPGPassword, nil, http.StatusUnauthorized)
		for _, secret := range []string{"wrong-secret", logSlackSecret} {
			req, err := fakeslack.Request(g.URL+"/slack/events", secret, time.Now().Unix(), "application/json",
				[]byte(`{"type":"url_verification","challenge":"c-1"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()

	// The CLI around it: config check, migrate, a start that cannot reach
	// its database (the error quotes the URL).
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "agentgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	badPG := *pg
	badPG.Host = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	for _, args := range [][]string{
		{"config", "check", cfgPath},
		{"migrate", "--config", cfgPath},
		{"serve", "--config", cfgPath, "--addr", "127.0.0.1:0"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, binPath, args...)
		cmd.Dir = dir
		e := env(dir)
		if args[0] == "serve" {
			e = append(e, "AGENTGATE_DATABASE_URL="+badPG.String())
		}
		cmd.Env = cleanEnv(e...)
		b, err := cmd.CombinedOutput()
		cancel()
		if (err != nil) != (args[0] == "serve") {
			t.Errorf("agentgate %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		fmt.Fprintf(&out, "\n$ agentgate %s\n%s", strings.Join(args, " "), b)
	}

	logs := out.String()
	if !strings.Contains(logs, "agentgate listening") || !strings.Contains(logs, "xxxxx") || !strings.Contains(logs, "cannot open the state store") {
		t.Fatalf("the processes did not log what the test exercises:\n%s", tail(logs, 6000))
	}
	secrets := map[string]string{"postgres password": logPGPassword, "redis password": logRedisPassword,
		"jwt secret": logJWTSecret, "slack signing secret": logSlackSecret, "slack bot token": logSlackToken,
		"openai api key": logOpenAIKey, "http tool bearer": logToolToken, "http tool key": logToolKey,
		"mcp server header": logMCPHeader}
	for i, u := range used {
		secrets[fmt.Sprintf("credential %d sent", i)] = u
	}
	for name, s := range secrets {
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, s) || strings.Contains(line, url.QueryEscape(s)) {
				t.Errorf("the %s appears in the output: %s", name, line)
			}
		}
	}
	t.Logf("%d lines of output scanned for %d secrets", strings.Count(logs, "\n"), len(secrets))
}
