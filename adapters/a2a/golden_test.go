package a2a

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/agentgate/agentgate/internal/testutil"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/tools/txtar"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
	"github.com/agentgate/agentgate/internal/testutil/runnabletest"
	"github.com/agentgate/agentgate/transport/httptransport"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The transcript goldens (testdata/*.txtar with a "transcript" section)
// drive the adapter in process over HTTP (fiber's app.Test): scripted
// agents (agents.json), a deterministic engine (ids id-0001…, a fixed
// clock) and optionally a gateway config (config.json). In the
// transcript, "> " lines are a request (method and path, then headers
// "Name: value", then the body), "< " lines the answer expected byte for
// byte (status and content type, the headers that matter, the body line
// by line), "! " lines directives, "#" lines comments. -update rewrites
// the "< " lines.
//
// Directives:
//
//	! wait TASK STATUS       poll until the run has the status
//	! release AGENT          let the agent's gated runs started so far end (after 50ms, while the next request runs)
//	! webhook N              wait until N push notification POSTs were made; show them
//	! webhook-fail N CODE    answer the next N push notification POSTs with CODE
//
// In requests, {{jwt SUB SCOPE,SCOPE}} becomes a fresh HS256 token.

// scriptAgent emits its events, then completes, pauses or fails; a paused
// run continued emits resume_events and completes with content (or, when
// the call was rejected, "Rejected: <note>"). A gated agent waits for
// "! release" (or its cancellation) before it ends.
type scriptAgent struct {
	ID           string               `json:"id"`
	Name         string               `json:"name"`
	Description  string               `json:"description"`
	Tools        []string             `json:"tools"`
	Events       []core.Event         `json:"events"`
	Content      string               `json:"content"`
	Pause        []core.ToolExecution `json:"pause"`
	ResumeEvents []core.Event         `json:"resume_events"`
	Error        string               `json:"error"`
	Gated        bool                 `json:"gated"`
	// Media are what a tool of the run produced (the run output's media).
	Media []core.MediaRef `json:"media"`

	// Gated runs wait for a release: the first `allowed` runs to execute
	// may end.
	mu      sync.Mutex
	started int
	allowed int
	changed chan struct{}
}

// waitGate blocks a gated run until a release lets it go (or ctx ends).
func (a *scriptAgent) waitGate(ctx context.Context) error {
	a.mu.Lock()
	ticket := a.started
	a.started++
	a.mu.Unlock()
	for {
		a.mu.Lock()
		ok, ch := ticket < a.allowed, a.changed
		a.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release lets the first n runs go, after delay.
func (a *scriptAgent) release(n int, delay time.Duration) {
	go func() {
		time.Sleep(delay)
		a.mu.Lock()
		a.allowed = max(a.allowed, n)
		close(a.changed)
		a.changed = make(chan struct{})
		a.mu.Unlock()
	}()
}

func (a *scriptAgent) Info() core.AgentInfo {
	info := core.AgentInfo{ID: a.ID, Name: a.Name, Description: a.Description}
	for _, t := range a.Tools {
		info.Tools = append(info.Tools, core.ToolInfo{Name: t})
	}
	return info
}

func (a *scriptAgent) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	evs := a.Events
	if x.Resume != nil {
		evs = a.ResumeEvents
	}
	for _, ev := range evs {
		if err := x.Emit(ctx, ev); err != nil {
			return nil, err
		}
	}
	if a.Gated && x.Resume == nil {
		if err := a.waitGate(ctx); err != nil {
			return nil, err
		}
	}
	switch {
	case x.Resume != nil:
		p := x.Resume.Pending[0]
		if p.Confirmed != nil && !*p.Confirmed {
			return &core.Outcome{Content: "Rejected: " + p.ConfirmationNote}, nil
		}
		return &core.Outcome{Content: a.Content, Tools: x.Resume.Pending}, nil
	case a.Error != "":
		return nil, &core.AgentError{Type: "model_error", Err: errors.New(a.Error)}
	case len(a.Pause) > 0:
		return &core.Outcome{Paused: &core.PausedState{Pending: a.Pause}}, nil
	}
	out := &core.Outcome{Content: a.Content, Messages: []core.Message{
		{Role: "system", Content: "be brief"}, {Role: "user", Content: x.Message}, {Role: "assistant", Content: a.Content},
	}}
	if len(a.Media) > 0 {
		out.Tools = []core.ToolExecution{{ToolCallID: "draw-1", ToolName: "draw", Media: a.Media}}
	}
	return out, nil
}

// goldenConfig is config.json.
type goldenConfig struct {
	AuthMode        string             `json:"auth_mode"`
	PushDisabled    bool               `json:"push_disabled"`
	Skills          map[string][]Skill `json:"skills"`
	PublicURL       string             `json:"public_url"`
	MaxEventsPerRun int                `json:"max_events_per_run"`
	// Runnables registers runnabletest.All(): agents echo and approver,
	// teams crew and duo, workflows pipeline and gated.
	Runnables bool `json:"runnables"`
}

const goldenSecret = "golden-hs256-secret-0123456789abcdef-0123"

// hookRecorder is the push notification receiver: an http.RoundTripper
// that records every POST and answers 200 (or the failures queued).
type hookRecorder struct {
	mu    sync.Mutex
	calls []string
	fail  []int
}

func (r *hookRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	code := http.StatusOK
	if len(r.fail) > 0 {
		code, r.fail = r.fail[0], r.fail[1:]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s -> %d\n", req.Method, req.URL, code)
	for _, h := range []string{"Content-Type", "Authorization", "X-A2A-Notification-Token"} {
		if v := req.Header.Get(h); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", h, v)
		}
	}
	b.Write(body)
	r.calls = append(r.calls, b.String())
	r.mu.Unlock()
	return &http.Response{StatusCode: code, Status: fmt.Sprintf("%d %s", code, http.StatusText(code)),
		Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}, Request: req}, nil
}

func (r *hookRecorder) take(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) < n {
		return nil
	}
	out := r.calls[:n]
	r.calls = r.calls[n:]
	return out
}

type goldenEnv struct {
	h      *Handler
	srv    *httptransport.Server
	eng    *core.Engine
	agents map[string]*scriptAgent
	hooks  *hookRecorder
}

func newGoldenEnv(t *testing.T, gc goldenConfig, agents []*scriptAgent) *goldenEnv {
	t.Helper()
	env := &goldenEnv{agents: map[string]*scriptAgent{}, hooks: &hookRecorder{}}
	var as []core.Agent
	for _, a := range agents {
		a.changed = make(chan struct{})
		env.agents[a.ID] = a
		as = append(as, a)
	}
	var n atomic.Int64
	eng := enginetest.New(t, enginetest.Options{
		Engine: core.EngineConfig{
			LeaseTTL: -1, Logger: slog.New(slog.DiscardHandler),
			NewID: func() string { return fmt.Sprintf("id-%04d", n.Add(1)) },
			Now:   func() time.Time { return time.Unix(1767225600, 0) },
		},
		Log: core.EventLogConfig{MaxEventsPerRun: gc.MaxEventsPerRun},
	}, as...).Engine
	env.eng = eng
	if gc.Runnables {
		for _, r := range runnabletest.All() {
			if err := eng.RegisterRunnable(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	var err error
	var authn *auth.Authenticator
	if gc.AuthMode != "" {
		if authn, err = auth.New(auth.Config{Mode: gc.AuthMode, JWT: auth.JWTConfig{Algorithm: auth.AlgHS256, Key: goldenSecret}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	env.srv = httptransport.New(httptransport.Config{Auth: authn, Logger: slog.New(slog.DiscardHandler)})
	var pushN atomic.Int64
	agentSettings := map[string]AgentSettings{}
	for id, skills := range gc.Skills {
		agentSettings[id] = AgentSettings{Skills: skills}
	}
	env.h = Register(env.srv, eng, Config{
		Name: "golden gateway", Version: "1.2.3", AuthMode: gc.AuthMode,
		Settings: Settings{PublicURL: gc.PublicURL, Agents: agentSettings,
			Push: PushSettings{Disabled: gc.PushDisabled, MaxBackoff: 2 * time.Millisecond, MaxAttempts: 3}},
		PushDelivery: PushDelivery{Client: &http.Client{Transport: env.hooks}, InitialBackoff: time.Millisecond},
		NewID:        func() string { return fmt.Sprintf("push-%d", pushN.Add(1)) },
		Logger:       slog.New(slog.DiscardHandler),
	})
	t.Cleanup(func() {
		for _, a := range env.agents {
			a.release(1<<30, 0)
		}
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = env.h.Close(cctx)
	})
	return env
}

var (
	headerLineRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*: `)
	jwtRE        = regexp.MustCompile(`\{\{jwt (\S+) ?([^}]*)\}\}`)
)

// shownHeaders are the response headers a transcript shows.
var shownHeaders = []string{"ETag", "Cache-Control", "WWW-Authenticate"}

func (env *goldenEnv) do(t *testing.T, lines []string) string {
	t.Helper()
	method, path, _ := strings.Cut(lines[0], " ")
	req := httptest.NewRequest(method, "http://a2a.test"+path, nil)
	i := 1
	for ; i < len(lines) && headerLineRE.MatchString(lines[i]); i++ {
		name, value, _ := strings.Cut(lines[i], ": ")
		req.Header.Set(name, env.expand(t, value))
	}
	if body := strings.Join(lines[i:], "\n"); body != "" {
		req = httptest.NewRequest(method, "http://a2a.test"+path, strings.NewReader(body))
		for j := 1; j < i; j++ {
			name, value, _ := strings.Cut(lines[j], ": ")
			req.Header.Set(name, env.expand(t, value))
		}
		if req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	resp, err := env.srv.App.Test(req, 20000)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "< %d %s\n", resp.StatusCode, resp.Header.Get("Content-Type"))
	for _, h := range shownHeaders {
		if v := resp.Header.Get(h); v != "" {
			fmt.Fprintf(&b, "< %s: %s\n", h, v)
		}
	}
	for _, l := range strings.Split(strings.TrimRight(string(body), "\n"), "\n") {
		if l == "" {
			b.WriteString("<\n")
		} else {
			b.WriteString("< " + l + "\n")
		}
	}
	return b.String()
}

func (env *goldenEnv) expand(t *testing.T, s string) string {
	return jwtRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := jwtRE.FindStringSubmatch(m)
		var scopes []string
		if sub[2] != "" {
			scopes = strings.Split(sub[2], ",")
		}
		tok, err := auth.MintJWT(auth.MintConfig{Algorithm: auth.AlgHS256}, goldenSecret, sub[1], scopes, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	})
}

func (env *goldenEnv) directive(t *testing.T, line string) string {
	t.Helper()
	f := strings.Fields(strings.TrimPrefix(line, "! "))
	switch f[0] {
	case "wait":
		testutil.WaitRunStatus(t, env.eng, f[1], core.RunStatus(f[2]), 10*time.Second)
		return ""
	case "release":
		runs, err := env.eng.List(context.Background(), core.ListRunsParams{AgentID: f[1]})
		if err != nil {
			t.Fatal(err)
		}
		env.agents[f[1]].release(len(runs), 50*time.Millisecond)
		return ""
	case "webhook":
		n, _ := strconv.Atoi(f[1])
		deadline := time.Now().Add(10 * time.Second)
		for {
			if calls := env.hooks.take(n); calls != nil {
				var b strings.Builder
				for _, c := range calls {
					for _, l := range strings.Split(c, "\n") {
						b.WriteString("< " + l + "\n")
					}
				}
				return b.String()
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: only %d push notifications", line, len(env.hooks.calls))
			}
			time.Sleep(2 * time.Millisecond)
		}
	case "webhook-fail":
		n, _ := strconv.Atoi(f[1])
		code, _ := strconv.Atoi(f[2])
		env.hooks.mu.Lock()
		for range n {
			env.hooks.fail = append(env.hooks.fail, code)
		}
		env.hooks.mu.Unlock()
		return ""
	}
	t.Fatalf("unknown directive %q", line)
	return ""
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.txtar: %v", err)
	}
	sort.Strings(files)
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if sectionOf(ar, "transcript") < 0 {
			continue // a renderer golden (render_test.go)
		}
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			t.Parallel()
			runTranscript(t, file, ar)
		})
	}
}

func sectionOf(ar *txtar.Archive, name string) int {
	for i, f := range ar.Files {
		if f.Name == name {
			return i
		}
	}
	return -1
}

func runTranscript(t *testing.T, file string, ar *txtar.Archive) {
	var gc goldenConfig
	var agents []*scriptAgent
	for _, f := range ar.Files {
		switch f.Name {
		case "config.json":
			dec := json.NewDecoder(bytes.NewReader(f.Data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&gc); err != nil {
				t.Fatalf("config.json: %v", err)
			}
		case "agents.json":
			dec := json.NewDecoder(bytes.NewReader(f.Data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&agents); err != nil {
				t.Fatalf("agents.json: %v", err)
			}
		case "transcript":
		default:
			t.Fatalf("unknown section %q", f.Name)
		}
	}
	env := newGoldenEnv(t, gc, agents)
	ti := sectionOf(ar, "transcript")
	var out strings.Builder
	var req []string
	flush := func() {
		if len(req) > 0 {
			out.WriteString(env.do(t, req))
			req = nil
		}
	}
	for _, line := range strings.Split(string(ar.Files[ti].Data), "\n") {
		switch {
		case strings.HasPrefix(line, "> "):
			if len(req) > 0 && isRequestLine(line[2:]) {
				flush()
			}
			out.WriteString(line + "\n")
			req = append(req, line[2:])
		case line == "<" || strings.HasPrefix(line, "< "):
			flush()
		case strings.HasPrefix(line, "! "):
			flush()
			out.WriteString(line + "\n")
			out.WriteString(env.directive(t, line))
		case strings.HasPrefix(line, "#"), line == "":
			flush()
			out.WriteString(line + "\n")
		default:
			t.Fatalf("transcript line %q: want \"> \", \"< \", \"! \" or \"#\"", line)
		}
	}
	flush()
	got := strings.TrimRight(out.String(), "\n") + "\n"
	if *update {
		ar.Files[ti].Data = []byte(got)
		if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want := string(ar.Files[ti].Data); got != want {
		t.Errorf("%s differs (run go test -update after checking):\n%s", file, testutil.LineDiff(want, got))
	}
}

var requestLineRE = regexp.MustCompile(`^(GET|POST|PUT|PATCH|DELETE) /`)

func isRequestLine(s string) bool { return requestLineRE.MatchString(s) }
