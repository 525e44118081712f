package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/auth"
)

// Shared by the auth_*_test.go files: a gateway config with two agents (a
// plain one and one that pauses for approval), HS256 tokens, and requests
// that carry an Authorization header.

// authSecret is the HS256 secret of the jwt-mode gateways (>= 32 bytes).
const authSecret = "e2e-hs256-secret-0123456789abcdef-0123456789"

// authKey is the security key of the key-mode gateways (>= 16 characters).
const authKey = "e2e-security-key-0123456789"

// authAgents are the models and agents every auth gateway serves:
// "assistant" completes at once, "approval-demo" pauses for confirmation.
var authAgents = `
models:
  plain:
    provider: scripted
    model: plain-1
    chunks: 2
    script:
      - reply: "You said: {{input}}"
  approval:
    provider: scripted
    model: approval-1
    chunks: 2
    script:
      - tool_calls:
          - name: calculator
            arguments: {expression: "6*7"}
        reply: "The calculator was approved and returned {{tool_result}}."
        rejected_reply: "Rejected. Note: {{note}}"
agents:
  - id: assistant
    name: Assistant
    model: plain
  - id: approval-demo
    name: Approval demo
    model: approval
    tools:
      - name: calculator
        requires_confirmation: true
teams:
  - id: matrix-team
    name: Matrix team
    mode: broadcast
    members: [assistant]
  - id: matrix-gate
    name: Matrix gate
    mode: broadcast
    members: [approval-demo]
workflows:
  - id: matrix-flow
    name: Matrix flow
    steps:
      - {name: answer, agent: assistant}
  - id: matrix-flow-gate
    name: Matrix flow gate
    steps:
      - {name: gated, agent: assistant, requires_confirmation: true, confirmation_message: "Go?"}
knowledge:
  - id: matrix-kb
    sources: [{id: matrix-src, github: {repo: acme/handbook, token: matrix-gh-token, api_url: "` + matrixGitHub() + `"}}]
  - id: matrix-scratch
`

// jwtConfig is a jwt-mode (HS256) config; extra is more top-level YAML.
func jwtConfig(extra string) string {
	return "auth_mode: jwt\njwt_key: \"" + authSecret + "\"\n" + extra + authAgents
}

// mintMC mints an HS256 token with mc (audience, issuer, extra claims).
func mintMC(t testing.TB, mc auth.MintConfig, sub string, ttl time.Duration, scopes ...string) string {
	t.Helper()
	mc.Algorithm = auth.AlgHS256
	tok, err := auth.MintJWT(mc, authSecret, sub, scopes, ttl)
	if err != nil {
		t.Fatalf("mint a token for %s %v: %v", sub, scopes, err)
	}
	return tok
}

// mint mints a 10-minute HS256 token for sub with scopes.
func mint(t testing.TB, sub string, scopes ...string) string {
	t.Helper()
	return mintMC(t, auth.MintConfig{}, sub, 10*time.Minute, scopes...)
}

// reqBody is a request body and its content type.
type reqBody struct {
	ct   string
	data []byte
}

func jsonBody(t testing.TB, v any) *reqBody {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return &reqBody{ct: "application/json", data: b}
}

func formBody(v url.Values) *reqBody {
	return &reqBody{ct: "application/x-www-form-urlencoded", data: []byte(v.Encode())}
}

// call sends a request with "Authorization: Bearer tok" (none when tok is
// empty) and returns the response, its whole body read (a stream is read to
// its end).
func call(t testing.TB, g *gateway, tok, method, path string, body *reqBody) (*http.Response, []byte) {
	t.Helper()
	return callHeader(t, g, method, path, body, bearer(tok))
}

func bearer(tok string) map[string]string {
	if tok == "" {
		return nil
	}
	return map[string]string{"Authorization": "Bearer " + tok}
}

// send is call without reading the body (for expectDetail and streams).
func send(t testing.TB, g *gateway, tok, method, path string, body *reqBody) *http.Response {
	t.Helper()
	var r io.Reader
	ct := ""
	if body != nil {
		r, ct = bytes.NewReader(body.data), body.ct
	}
	return g.do(t, testCtx(t, 20*time.Second), method, path, r, ct, bearer(tok))
}

// callHeader is call with arbitrary headers.
func callHeader(t testing.TB, g *gateway, method, path string, body *reqBody, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var r io.Reader
	ct := ""
	if body != nil {
		r, ct = bytes.NewReader(body.data), body.ct
	}
	resp := g.do(t, ctx, method, path, r, ct, header)
	return resp, readAll(t, resp)
}

// want checks the status of a call and returns the body.
func want(t testing.TB, g *gateway, tok, method, path string, body *reqBody, status int) []byte {
	t.Helper()
	resp, b := call(t, g, tok, method, path, body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body: %s", method, path, resp.StatusCode, status, truncateBody(b))
	}
	return b
}

func truncateBody(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// fullRun is a stored run with the fields the auth tests look at.
type fullRun struct {
	RunID     string `json:"run_id"`
	SessionID string `json:"session_id"`
	AgentID   string `json:"agent_id"`
	UserID    string `json:"user_id"`
	Status    string `json:"status"`
	// Requirements of a paused run: the tool executions waiting for a decision.
	Requirements []struct {
		ToolExecution json.RawMessage `json:"tool_execution"`
	} `json:"requirements"`
}

// completedRun runs agent with stream=false (it must complete) as tok;
// form adds fields (session_id, user_id).
func completedRun(t testing.TB, g *gateway, tok, agent string, form url.Values) fullRun {
	t.Helper()
	f := url.Values{"message": {"hello"}, "stream": {"false"}}
	for k, v := range form {
		f[k] = v
	}
	var r fullRun
	decode(t, want(t, g, tok, http.MethodPost, "/agents/"+agent+"/runs", formBody(f), http.StatusOK), &r)
	if r.Status != "COMPLETED" || r.RunID == "" || r.SessionID == "" {
		t.Fatalf("run of %s did not complete: %+v", agent, r)
	}
	return r
}

// pausedRun starts a run of approval-demo with stream=false as tok and
// returns it PAUSED, with the tool executions waiting for confirmation.
func pausedRun(t testing.TB, g *gateway, tok string, form url.Values) fullRun {
	t.Helper()
	f := url.Values{"message": {"compute 6*7"}, "stream": {"false"}}
	for k, v := range form {
		f[k] = v
	}
	var r fullRun
	decode(t, want(t, g, tok, http.MethodPost, "/agents/approval-demo/runs", formBody(f), http.StatusOK), &r)
	if r.Status != "PAUSED" || len(r.Requirements) == 0 {
		t.Fatalf("run of approval-demo did not pause: %+v", r)
	}
	return r
}

// continueForm confirms every paused tool of r (blocking answer).
func continueForm(t testing.TB, r fullRun) *reqBody {
	t.Helper()
	var tools []map[string]any
	for _, req := range r.Requirements {
		var m map[string]any
		decode(t, req.ToolExecution, &m)
		m["confirmed"] = true
		tools = append(tools, m)
	}
	b, err := json.Marshal(tools)
	if err != nil {
		t.Fatal(err)
	}
	return formBody(url.Values{"tools": {string(b)}, "stream": {"false"}})
}

// createSession creates a session as tok and returns its id.
func createSession(t testing.TB, g *gateway, tok string, body map[string]any) string {
	t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	var s struct {
		SessionID string `json:"session_id"`
		UserID    string `json:"user_id"`
	}
	decode(t, want(t, g, tok, http.MethodPost, "/sessions", jsonBody(t, body), http.StatusCreated), &s)
	if s.SessionID == "" {
		t.Fatal("created session without an id")
	}
	return s.SessionID
}

// serviceAccount is the answer to POST /service-accounts.
type serviceAccount struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Principal   string   `json:"principal"`
	UserID      string   `json:"user_id"`
	TokenPrefix string   `json:"token_prefix"`
	Scopes      []string `json:"scopes"`
	Token       string   `json:"token"`
	RevokedAt   int64    `json:"revoked_at"`
}

// createServiceAccount creates a service account as tok (an admin).
func createServiceAccount(t testing.TB, g *gateway, tok, name string, scopes ...string) serviceAccount {
	t.Helper()
	var sa serviceAccount
	decode(t, want(t, g, tok, http.MethodPost, "/service-accounts",
		jsonBody(t, map[string]any{"name": name, "scopes": scopes}), http.StatusCreated), &sa)
	if sa.ID == "" || sa.Token == "" {
		t.Fatalf("created service account without id or token: %+v", sa)
	}
	return sa
}

// sessionIDs lists the session ids GET /sessions shows tok.
func sessionIDs(t testing.TB, g *gateway, tok, query string) []string {
	t.Helper()
	var page struct {
		Data []struct {
			SessionID string `json:"session_id"`
		} `json:"data"`
	}
	decode(t, want(t, g, tok, http.MethodGet, "/sessions?limit=1000"+query, nil, http.StatusOK), &page)
	ids := make([]string, len(page.Data))
	for i, s := range page.Data {
		ids[i] = s.SessionID
	}
	return ids
}

// expect401 checks a refused request: 401 with the Bearer challenge and a
// {"detail"} body.
func expect401(t testing.TB, resp *http.Response, b []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("%s %s: status %d, want 401; body: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, truncateBody(b))
		return
	}
	if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
		t.Errorf("%s %s: 401 without a Bearer WWW-Authenticate challenge (%q)", resp.Request.Method, resp.Request.URL.Path, h)
	}
	var e struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal(b, &e) != nil || e.Detail == "" {
		t.Errorf("%s %s: 401 body without a detail: %s", resp.Request.Method, resp.Request.URL.Path, truncateBody(b))
	}
}

// matrixGitHub is a loopback fake of GitHub's REST API (one repository
// with one file) for matrix-kb's remote source, kept for the process.
var matrixGitHub = sync.OnceValue(func() string {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /repos/acme/handbook", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"default_branch":"main"}`)
	})
	mux.HandleFunc("GET /repos/acme/handbook/git/trees/main", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"tree":[{"path":"matrix.md","type":"blob","size":22}],"truncated":false}`)
	})
	mux.HandleFunc("GET /repos/acme/handbook/contents/matrix.md", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "# Matrix\n\nremote file\n")
	})
	return httptest.NewServer(mux).URL
})
