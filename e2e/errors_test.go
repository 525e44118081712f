package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const errorsConfig = `
http:
  body_limit: 4096
models:
  plain:
    provider: scripted
    model: plain-1
    chunks: 2
    script:
      - match: explode
        error: "the scripted model failed on purpose"
      - reply: "You said: {{input}}"
agents:
  - id: assistant
    name: Assistant
    model: plain
  - id: other
    name: Other
    model: plain
`

// TestBadInput checks error answers: status codes and the {"detail"} body.
func TestBadInput(t *testing.T) {
	t.Parallel()
	g := startGateway(t, errorsConfig)
	ctx := testCtx(t, 30*time.Second)

	// A finished run to refer to.
	var done run
	decode(t, expectStatus(t, g.postForm(t, ctx, "/agents/assistant/runs", url.Values{"message": {"hi"}, "stream": {"false"}}), http.StatusOK), &done)

	t.Run("unknown_agent", func(t *testing.T) {
		expectDetail(t, g.postForm(t, ctx, "/agents/nope/runs", url.Values{"message": {"hi"}}), http.StatusNotFound)
		expectDetail(t, g.get(t, ctx, "/agents/nope"), http.StatusNotFound)
		expectDetail(t, g.get(t, ctx, "/agents/nope/runs/"+done.RunID), http.StatusNotFound)
	})
	t.Run("unknown_run", func(t *testing.T) {
		expectDetail(t, g.get(t, ctx, "/agents/assistant/runs/no-such-run"), http.StatusNotFound)
		expectDetail(t, g.get(t, ctx, "/agents/assistant/runs/no-such-run/stream"), http.StatusNotFound)
		expectDetail(t, g.postForm(t, ctx, "/agents/assistant/runs/no-such-run/cancel", nil), http.StatusNotFound)
		// A run of another agent is not found under this one.
		expectDetail(t, g.get(t, ctx, "/agents/other/runs/"+done.RunID), http.StatusNotFound)
		// Nor in another session.
		expectDetail(t, g.get(t, ctx, "/agents/assistant/runs/"+done.RunID+"?session_id=other-session"), http.StatusNotFound)
		expectDetail(t, g.get(t, ctx, "/sessions/other-session/runs/"+done.RunID), http.StatusNotFound)
	})
	t.Run("unknown_session", func(t *testing.T) {
		expectDetail(t, g.get(t, ctx, "/sessions/no-such-session"), http.StatusNotFound)
		expectDetail(t, g.get(t, ctx, "/sessions/no-such-session/runs"), http.StatusNotFound)
		expectDetail(t, g.sendJSON(t, ctx, http.MethodPatch, "/sessions/no-such-session", map[string]any{"session_name": "x"}), http.StatusNotFound)
		expectDetail(t, g.sendJSON(t, ctx, http.MethodPost, "/sessions/no-such-session/rename", map[string]any{"session_name": "x"}), http.StatusNotFound)
		expectDetail(t, g.sendJSON(t, ctx, http.MethodDelete, "/sessions/no-such-session", nil), http.StatusNotFound)
	})
	t.Run("missing_message", func(t *testing.T) {
		for _, resp := range []*http.Response{
			g.postForm(t, ctx, "/agents/assistant/runs", url.Values{"stream": {"false"}}),
			g.postMultipart(t, ctx, "/agents/assistant/runs", url.Values{"message": {"   "}}),
			g.do(t, ctx, http.MethodPost, "/agents/assistant/runs", nil, "", nil),
		} {
			if resp.StatusCode == http.StatusUnprocessableEntity {
				expectDetail(t, resp, http.StatusUnprocessableEntity)
			} else {
				expectDetail(t, resp, http.StatusBadRequest)
			}
		}
	})
	t.Run("malformed_forms", func(t *testing.T) {
		expectDetail(t, g.postForm(t, ctx, "/agents/assistant/runs", url.Values{"message": {"hi"}, "stream": {"maybe"}}), http.StatusBadRequest)
		expectDetail(t, g.do(t, ctx, http.MethodPost, "/agents/assistant/runs", strings.NewReader("message=hi"), "text/plain", nil), http.StatusBadRequest)
		expectDetail(t, g.do(t, ctx, http.MethodPost, "/agents/assistant/runs", strings.NewReader("--x\r\nbroken"), "multipart/form-data; boundary=x", nil), http.StatusBadRequest)
	})
	t.Run("body_too_large", func(t *testing.T) {
		big := strings.Repeat("a", 8<<10) // http.body_limit is 4096
		expectDetail(t, g.postForm(t, ctx, "/agents/assistant/runs", url.Values{"message": {big}, "stream": {"false"}}), http.StatusRequestEntityTooLarge)
		expectDetail(t, g.postMultipart(t, ctx, "/agents/assistant/runs", url.Values{"message": {big}}), http.StatusRequestEntityTooLarge)
		// The server is fine afterwards.
		expectStatus(t, g.get(t, ctx, "/health"), http.StatusOK)
	})
}

// TestModelErrorEndsRun: a scripted model rule with error: ends the run
// with RunError in every mode, never with a hung stream.
func TestModelErrorEndsRun(t *testing.T) {
	t.Parallel()
	g := startGateway(t, errorsConfig)

	t.Run("stream", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 10*time.Second) // a hung stream fails here
		resp := g.postForm(t, ctx, "/agents/assistant/runs", url.Values{"message": {"please explode"}})
		expectSSE(t, resp)
		defer resp.Body.Close()
		frames := readFrames(t, resp.Body)
		evs := events(t, frames, 0)
		last := evs[len(evs)-1]
		if last.Event != "RunError" || !strings.Contains(last.Content, "failed on purpose") || last.ErrorType == "" {
			t.Fatalf("the stream should end with RunError: %v; last %s", types(frames), frames[len(frames)-1].Data)
		}
		r, b := g.getRun(t, ctx, "assistant", last.RunID)
		if r.Status != "ERROR" || !strings.Contains(r.Error, "failed on purpose") {
			t.Errorf("stored run: %s", b)
		}
		golden(t, "error_stream", normalize([]byte(joinRaw(frames))))
	})
	t.Run("blocking", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 10*time.Second)
		b := readAll(t, g.postForm(t, ctx, "/agents/assistant/runs", url.Values{"message": {"explode"}, "stream": {"false"}}))
		var r run
		decode(t, b, &r)
		if r.Status != "ERROR" || r.Error == "" {
			t.Errorf("blocking answer of a failing run: %s", b)
		}
	})
	t.Run("background", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 10*time.Second)
		var acc run
		decode(t, expectStatus(t, g.postForm(t, ctx, "/agents/assistant/runs", url.Values{
			"message": {"explode"}, "stream": {"false"}, "background": {"true"}}), http.StatusAccepted), &acc)
		g.waitStatus(t, "assistant", acc.RunID, "ERROR")
		frames := resumeGET(t, g, "assistant", acc.RunID, "")
		if evs := events(t, frames, 0); evs[len(evs)-1].Event != "RunError" {
			t.Errorf("stream of a failed background run: %v", types(frames))
		}
	})
}

// TestSessionsAPI is a round trip through the sessions routes.
func TestSessionsAPI(t *testing.T) {
	t.Parallel()
	g := startGateway(t, errorsConfig)
	ctx := testCtx(t, 30*time.Second)

	type session struct {
		SessionID    string         `json:"session_id"`
		SessionName  string         `json:"session_name"`
		SessionType  string         `json:"session_type"`
		AgentID      string         `json:"agent_id"`
		SessionState map[string]any `json:"session_state"`
		Metadata     map[string]any `json:"metadata"`
		Summary      struct {
			Summary string `json:"summary"`
		} `json:"session_summary"` // agno's SessionSummary object
		ChatHistory []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"chat_history"`
	}

	// Create: 201.
	var s session
	decode(t, expectStatus(t, g.sendJSON(t, ctx, http.MethodPost, "/sessions", map[string]any{
		"session_name": "first", "agent_id": "assistant", "metadata": map[string]any{"k": "v"},
	}), http.StatusCreated), &s)
	if s.SessionID == "" || s.SessionName != "first" || s.SessionType != "agent" || s.AgentID != "assistant" || s.Metadata["k"] != "v" {
		t.Fatalf("created session: %+v", s)
	}
	// A duplicate id is a conflict; an unknown agent is not found.
	expectDetail(t, g.sendJSON(t, ctx, http.MethodPost, "/sessions", map[string]any{"session_id": s.SessionID}), http.StatusConflict)
	expectDetail(t, g.sendJSON(t, ctx, http.MethodPost, "/sessions", map[string]any{"agent_id": "nope"}), http.StatusNotFound)

	// Two runs in it: the second sees the first as history.
	for _, msg := range []string{"one", "two"} {
		var r run
		decode(t, expectStatus(t, g.postForm(t, ctx, "/agents/assistant/runs", url.Values{
			"message": {msg}, "stream": {"false"}, "session_id": {s.SessionID}}), http.StatusOK), &r)
		if r.SessionID != s.SessionID || r.Content != "You said: "+msg {
			t.Fatalf("run in the session: %+v", r)
		}
	}

	// Get: the chat history holds both exchanges.
	var got session
	decode(t, expectStatus(t, g.get(t, ctx, "/sessions/"+s.SessionID), http.StatusOK), &got)
	var history []string
	for _, m := range got.ChatHistory {
		history = append(history, m.Role+":"+m.Content)
	}
	// (That each exchange appears exactly once is TestSessionHistory's job.)
	if h := strings.Join(history, "|"); !strings.HasPrefix(h, "user:one|assistant:You said: one|") || !strings.HasSuffix(h, "|user:two|assistant:You said: two") {
		t.Errorf("chat history %q", h)
	}

	// Patch and rename.
	decode(t, expectStatus(t, g.sendJSON(t, ctx, http.MethodPatch, "/sessions/"+s.SessionID, map[string]any{
		"session_state": map[string]any{"step": 2.0}, "summary": "two greetings",
	}), http.StatusOK), &got)
	if got.SessionState["step"] != 2.0 || got.Summary.Summary != "two greetings" || got.SessionName != "first" {
		t.Errorf("patched session: %+v", got)
	}
	// agno's UpdateSessionRequest sends the summary as an object.
	decode(t, expectStatus(t, g.sendJSON(t, ctx, http.MethodPatch, "/sessions/"+s.SessionID, map[string]any{
		"summary": map[string]any{"summary": "an object"},
	}), http.StatusOK), &got)
	if got.Summary.Summary != "an object" {
		t.Errorf("patched with a summary object: %+v", got)
	}
	expectDetail(t, g.sendJSON(t, ctx, http.MethodPatch, "/sessions/"+s.SessionID, map[string]any{"summary": 42}), http.StatusBadRequest)
	decode(t, expectStatus(t, g.sendJSON(t, ctx, http.MethodPost, "/sessions/"+s.SessionID+"/rename", map[string]any{
		"session_name": "renamed",
	}), http.StatusOK), &got)
	if got.SessionName != "renamed" {
		t.Errorf("renamed session: %+v", got)
	}
	expectDetail(t, g.sendJSON(t, ctx, http.MethodPost, "/sessions/"+s.SessionID+"/rename", map[string]any{"session_name": ""}), http.StatusUnprocessableEntity)

	// List runs of the session.
	var runs []run
	decode(t, expectStatus(t, g.get(t, ctx, "/sessions/"+s.SessionID+"/runs"), http.StatusOK), &runs)
	if len(runs) != 2 || runs[0].Status != "COMPLETED" {
		t.Errorf("runs of the session: %+v", runs)
	}
	var one run
	decode(t, expectStatus(t, g.get(t, ctx, "/sessions/"+s.SessionID+"/runs/"+runs[0].RunID), http.StatusOK), &one)
	if one.RunID != runs[0].RunID {
		t.Errorf("one run of the session: %+v", one)
	}

	// More sessions, then list with pagination: {data, meta}.
	for _, name := range []string{"b", "c"} {
		expectStatus(t, g.sendJSON(t, ctx, http.MethodPost, "/sessions", map[string]any{"session_name": name}), http.StatusCreated)
	}
	type page struct {
		Data []session `json:"data"`
		Meta struct {
			Page       int `json:"page"`
			Limit      int `json:"limit"`
			TotalPages int `json:"total_pages"`
			TotalCount int `json:"total_count"`
		} `json:"meta"`
	}
	var p1, p2 page
	decode(t, expectStatus(t, g.get(t, ctx, "/sessions?limit=2&page=1&sort_by=session_name&sort_order=asc"), http.StatusOK), &p1)
	decode(t, expectStatus(t, g.get(t, ctx, "/sessions?limit=2&page=2&sort_by=session_name&sort_order=asc"), http.StatusOK), &p2)
	if p1.Meta.TotalCount != 3 || p1.Meta.TotalPages != 2 || p1.Meta.Page != 1 || p1.Meta.Limit != 2 || len(p1.Data) != 2 || len(p2.Data) != 1 {
		t.Errorf("pages: %+v / %+v", p1, p2)
	} else if names := p1.Data[0].SessionName + "," + p1.Data[1].SessionName + "," + p2.Data[0].SessionName; names != "b,c,renamed" {
		t.Errorf("sorted by name: %s", names)
	}
	var byName page
	decode(t, expectStatus(t, g.get(t, ctx, "/sessions?session_name=RENAM"), http.StatusOK), &byName)
	if len(byName.Data) != 1 || byName.Data[0].SessionID != s.SessionID {
		t.Errorf("search by name: %+v", byName)
	}
	expectDetail(t, g.get(t, ctx, "/sessions?limit=0"), http.StatusUnprocessableEntity)

	// Bulk delete with mismatched lengths: 400, nothing deleted.
	expectDetail(t, g.sendJSON(t, ctx, http.MethodDelete, "/sessions", map[string]any{
		"session_ids": []string{s.SessionID, p1.Data[0].SessionID}, "session_types": []string{"agent"},
	}), http.StatusBadRequest)
	expectStatus(t, g.get(t, ctx, "/sessions/"+s.SessionID), http.StatusOK)

	// Delete one: 204, then it and its runs are gone.
	expectStatus(t, g.sendJSON(t, ctx, http.MethodDelete, "/sessions/"+s.SessionID, nil), http.StatusNoContent)
	expectDetail(t, g.get(t, ctx, "/sessions/"+s.SessionID), http.StatusNotFound)
	expectDetail(t, g.get(t, ctx, "/agents/assistant/runs/"+runs[0].RunID), http.StatusNotFound)

	// Bulk delete the rest: 204, empty list.
	expectStatus(t, g.sendJSON(t, ctx, http.MethodDelete, "/sessions", map[string]any{
		"session_ids": []string{p1.Data[0].SessionID, p1.Data[1].SessionID}, "session_types": []string{"agent", "agent"},
	}), http.StatusNoContent)
	var empty page
	decode(t, expectStatus(t, g.get(t, ctx, "/sessions"), http.StatusOK), &empty)
	if empty.Meta.TotalCount != 0 || empty.Data == nil || len(empty.Data) != 0 {
		t.Errorf("after deleting every session: %+v", empty)
	}
}

// TestServiceRoutes checks /health, /config and /openapi.json.
func TestServiceRoutes(t *testing.T) {
	t.Parallel()
	g := startGateway(t, errorsConfig)
	ctx := testCtx(t, 10*time.Second)

	var health struct {
		Status string `json:"status"`
	}
	decode(t, expectStatus(t, g.get(t, ctx, "/health"), http.StatusOK), &health)
	if health.Status != "ok" {
		t.Errorf("health: %+v", health)
	}
	var cfg struct {
		Agents []struct {
			ID string `json:"id"`
		} `json:"agents"`
	}
	decode(t, expectStatus(t, g.get(t, ctx, "/config"), http.StatusOK), &cfg)
	if len(cfg.Agents) != 2 || cfg.Agents[0].ID != "assistant" {
		t.Errorf("config agents: %+v", cfg.Agents)
	}

	b := expectStatus(t, g.get(t, ctx, "/openapi.json"), http.StatusOK)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	decode(t, b, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}
	for path, methods := range map[string][]string{
		"/agents/{agent_id}/runs":                   {"post", "get"},
		"/agents/{agent_id}/runs/{run_id}":          {"get"},
		"/agents/{agent_id}/runs/{run_id}/cancel":   {"post"},
		"/agents/{agent_id}/runs/{run_id}/continue": {"post"},
		"/agents/{agent_id}/runs/{run_id}/resume":   {"post"},
		"/agents/{agent_id}/runs/{run_id}/stream":   {"get"},
		"/sessions":              {"get", "post", "delete"},
		"/sessions/{session_id}": {"get", "patch", "delete"},
	} {
		for _, m := range methods {
			if _, ok := doc.Paths[path][m]; !ok {
				t.Errorf("/openapi.json lacks %s %s", strings.ToUpper(m), path)
			}
		}
	}
	docs := expectStatus(t, g.get(t, ctx, "/docs"), http.StatusOK)
	if !bytes.Contains(bytes.ToLower(docs), []byte("<html")) {
		t.Errorf("/docs is not an HTML page: %.200s", docs)
	}
}

// TestCLI runs the binary's other commands: config check, version, run.
// runCLI runs the agentgate binary with args in a temporary directory, on a
// clean environment plus env, and returns its combined output.
func runCLI(t *testing.T, ctx context.Context, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = cleanEnv(env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func TestCLI(t *testing.T) {
	t.Parallel()

	cli := func(t *testing.T, ctx context.Context, args ...string) (string, error) {
		t.Helper()
		return runCLI(t, ctx, nil, args...)
	}

	t.Run("config_check", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 20*time.Second)
		dir := t.TempDir()
		good := filepath.Join(dir, "good.yaml")
		if err := os.WriteFile(good, []byte(errorsConfig), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := cli(t, ctx, "config", "check", good); err != nil || !strings.Contains(out, "ok") {
			t.Errorf("config check of a good config: %v\n%s", err, out)
		}
		// An unknown key on line 6.
		bad := filepath.Join(dir, "bad.yaml")
		cfg := "models:\n  plain:\n    provider: scripted\n    model: plain-1\n    chunks: 2\n    chunk_size: 3\nagents: []\n"
		if err := os.WriteFile(bad, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := cli(t, ctx, "config", "check", bad)
		var ee *exec.ExitError
		if err == nil || !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Fatalf("config check of a config with an unknown key should exit non-zero: %v\n%s", err, out)
		}
		if !strings.Contains(out, "chunk_size") || !regexp.MustCompile(`(\[6:\d+\]|line 6\b|:6:)`).MatchString(out) {
			t.Errorf("the error should name the key and line 6:\n%s", out)
		}
	})

	t.Run("migrate", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 20*time.Second)
		db := "sqlite://" + filepath.Join(t.TempDir(), "m.db")
		migrate := func(args ...string) (string, error) {
			cmd := exec.CommandContext(ctx, binPath, append([]string{"migrate"}, args...)...)
			cmd.Dir = t.TempDir()
			cmd.Env = cleanEnv("AGENTGATE_DATABASE_URL=" + db)
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		out, err := migrate()
		if err != nil || !regexp.MustCompile(`schema version 0 -> [1-9]\d*`).MatchString(out) {
			t.Fatalf("migrate to latest: %v\n%s", err, out)
		}
		latest := regexp.MustCompile(`-> (\d+)`).FindStringSubmatch(out)[1]
		if out, err := migrate("--to", "0"); err != nil || !strings.Contains(out, "schema version "+latest+" -> 0") {
			t.Fatalf("migrate down to 0: %v\n%s", err, out)
		}
		if out, err := migrate("--to", "1"); err != nil || !strings.Contains(out, "0 -> 1") {
			t.Fatalf("migrate up to 1: %v\n%s", err, out)
		}
		if out, err := migrate("--to", "banana"); err == nil || !strings.Contains(out, "--to") {
			t.Fatalf("migrate --to banana should fail naming the flag: %v\n%s", err, out)
		}
		if out, err := migrate("--to", "99"); err == nil {
			t.Fatalf("migrate to an unknown version should fail:\n%s", out)
		}
	})

	t.Run("version", func(t *testing.T) {
		t.Parallel()
		out, err := cli(t, testCtx(t, 20*time.Second), "version")
		if err != nil || !regexp.MustCompile(`(?m)^agentgate \S+`).MatchString(out) {
			t.Errorf("version: %v %q", err, out)
		}
	})

	t.Run("run", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, errorsConfig)
		ctx := testCtx(t, 20*time.Second)
		out, err := cli(t, ctx, "run", "assistant", "hello there", "--url", g.URL)
		if err != nil || !strings.Contains(out, "You said: hello there") {
			t.Fatalf("agentgate run: %v\n%s", err, out)
		}
		m := regexp.MustCompile(`session: (\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("agentgate run printed no session:\n%s", out)
		}
		// The run is stored in that session; a second run continues it.
		out, err = cli(t, ctx, "run", "assistant", "again", "--url", g.URL, "--session", m[1])
		if err != nil || !strings.Contains(out, "You said: again") {
			t.Fatalf("agentgate run --session: %v\n%s", err, out)
		}
		var runs []run
		decode(t, expectStatus(t, g.get(t, ctx, "/sessions/"+m[1]+"/runs"), http.StatusOK), &runs)
		if len(runs) != 2 {
			t.Errorf("runs of the CLI's session: %+v", runs)
		}
		// A failing run makes it exit non-zero; an unknown agent too.
		if out, err := cli(t, ctx, "run", "assistant", "explode", "--url", g.URL); err == nil {
			t.Errorf("agentgate run of a failing run exited 0:\n%s", out)
		}
		if out, err := cli(t, ctx, "run", "nope", "hi", "--url", g.URL); err == nil || !strings.Contains(out, "404") {
			t.Errorf("agentgate run of an unknown agent: %v\n%s", err, out)
		}
	})
}

// TestSessionHistory runs three turns in one session: each earlier exchange
// must appear exactly once, both in the session's chat_history and in what
// the model is given as history (seen in the stored run's messages).
func TestSessionHistory(t *testing.T) {
	t.Parallel()
	g := startGateway(t, errorsConfig)
	ctx := testCtx(t, 20*time.Second)
	sessionID := "history-session"
	var last []byte
	for _, msg := range []string{"one", "two", "three"} {
		last = expectStatus(t, g.postForm(t, ctx, "/agents/assistant/runs", url.Values{
			"message": {msg}, "stream": {"false"}, "session_id": {sessionID}}), http.StatusOK)
	}
	want := "user:one|assistant:You said: one|user:two|assistant:You said: two|user:three|assistant:You said: three"
	var third struct {
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
	}
	decode(t, last, &third)
	var seen []string
	for _, m := range third.Messages {
		seen = append(seen, m.Role+":"+m.Content)
	}
	// Whether a run's messages include its history is a choice; holding an
	// earlier exchange twice is not (it is what the model was sent).
	if got := strings.Join(seen, "|"); strings.Count(got, "user:one") > 1 || !strings.HasSuffix(got, "user:three|assistant:You said: three") {
		t.Errorf("the third run's messages (what the model was sent) repeat earlier turns:\n got  %s\n want %s", got, want)
	}
	var s struct {
		ChatHistory []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"chat_history"`
	}
	decode(t, expectStatus(t, g.get(t, ctx, "/sessions/"+sessionID), http.StatusOK), &s)
	seen = seen[:0]
	for _, m := range s.ChatHistory {
		seen = append(seen, m.Role+":"+m.Content)
	}
	if got := strings.Join(seen, "|"); got != want {
		t.Errorf("the session's chat_history:\n got  %s\n want %s", got, want)
	}
}
