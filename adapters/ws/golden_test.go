package ws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/agentgate/agentgate/internal/testutil"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/tools/txtar"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

var update = flag.Bool("update", false, "rewrite the transcripts in testdata/*.txtar")

// The golden tests replay testdata/*.txtar: each file scripts an agent
// (agent.json: the events it emits, then how it ends), optionally the
// gateway (config.json), and a session transcript. In the transcript,
// "> " lines are client frames sent verbatim (malformed ones included),
// "< " lines are the server frames expected after each, byte for byte, and
// "#" lines are comments. The engine has deterministic ids and a fixed
// clock, and each client frame is answered (and every run it started
// followed to its segment's end) before the next is sent, so the frames
// are exact. -update rewrites the "< " lines.

// scriptAgent emits the events of its script, then completes, pauses or
// fails; a paused run continued emits resume_events and completes.
type scriptAgent struct {
	ID           string               `json:"id"`
	Events       []core.Event         `json:"events"`
	Content      string               `json:"content"`
	Pause        []core.ToolExecution `json:"pause"`
	ResumeEvents []core.Event         `json:"resume_events"`
	Error        string               `json:"error"`
	// DelayMS paces the events, so that a live follower keeps up with a
	// log that keeps very few events.
	DelayMS int `json:"delay_ms"`
}

func (a *scriptAgent) Info() core.AgentInfo {
	return core.AgentInfo{ID: a.ID, Name: strings.ToUpper(a.ID[:1]) + a.ID[1:]}
}

func (a *scriptAgent) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	evs := a.Events
	if x.Resume != nil {
		evs = a.ResumeEvents
	}
	for _, ev := range evs {
		if a.DelayMS > 0 {
			time.Sleep(time.Duration(a.DelayMS) * time.Millisecond)
		}
		if err := x.Emit(ctx, ev); err != nil {
			return nil, err
		}
	}
	switch {
	case x.Resume != nil:
		return &core.Outcome{Content: a.Content, Tools: x.Resume.Pending}, nil
	case a.Error != "":
		return nil, &core.AgentError{Type: "model_error", Err: errors.New(a.Error)}
	case len(a.Pause) > 0:
		return &core.Outcome{Paused: &core.PausedState{Pending: a.Pause}}, nil
	}
	return &core.Outcome{Content: a.Content}, nil
}

// goldenConfig is config.json.
type goldenConfig struct {
	AuthMode        string `json:"auth_mode"`
	SecurityKey     string `json:"security_key"`
	MaxEventsPerRun int    `json:"max_events_per_run"`
	MaxRuns         int    `json:"max_runs"`
}

// recorder is an unbounded outbox that keeps every frame.
type recorder struct {
	mu     sync.Mutex
	frames [][]byte
}

func (r *recorder) send(_ context.Context, f []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, f)
	return true
}

func (r *recorder) drain() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.frames
	r.frames = nil
	return out
}

type goldenEnv struct {
	h   *Handler
	eng *core.Engine
}

func newGoldenEnv(t *testing.T, gc goldenConfig, agents []*scriptAgent) *goldenEnv {
	t.Helper()
	var (
		n  atomic.Int64
		as []core.Agent
	)
	for _, a := range agents {
		as = append(as, a)
	}
	eng := enginetest.New(t, enginetest.Options{
		Engine: core.EngineConfig{
			LeaseTTL: -1, Logger: slog.New(slog.DiscardHandler),
			NewID: func() string { return fmt.Sprintf("id-%04d", n.Add(1)) },
			Now:   func() time.Time { return time.Unix(1767225600, 0) },
		},
		Log: core.EventLogConfig{MaxEventsPerRun: gc.MaxEventsPerRun},
	}, as...).Engine
	var err error
	var authn *auth.Authenticator
	if gc.AuthMode != "" {
		if authn, err = auth.New(auth.Config{Mode: gc.AuthMode, SecurityKey: gc.SecurityKey}, nil); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{Settings: Settings{MaxRuns: gc.MaxRuns}, Auth: authn, Logger: slog.New(slog.DiscardHandler)}.withDefaults()
	cfg.Policy.Declare(Operations()...) // as Register does
	h := &Handler{eng: eng, policy: cfg.Policy, authn: authn, cfg: cfg, logger: cfg.Logger, sockets: map[*socket]struct{}{}}
	return &goldenEnv{h: h, eng: eng}
}

// settle waits until the session follows no run (every pump reached its
// segment's end: its frames are recorded).
func settle(t *testing.T, s *session) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.follows)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("runs still followed after 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestWSGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.txtar: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			t.Parallel()
			runGolden(t, file)
		})
	}
}

func runGolden(t *testing.T, file string) {
	ar, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var gc goldenConfig
	var agents []*scriptAgent
	transcript := -1
	for i, f := range ar.Files {
		switch f.Name {
		case "config.json":
			if err := json.Unmarshal(f.Data, &gc); err != nil {
				t.Fatalf("config.json: %v", err)
			}
		case "agents.json":
			dec := json.NewDecoder(bytes.NewReader(f.Data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&agents); err != nil {
				t.Fatalf("agents.json: %v", err)
			}
		case "session":
			transcript = i
		default:
			t.Fatalf("unknown section %q", f.Name)
		}
	}
	if transcript < 0 {
		t.Fatal("no session section")
	}
	env := newGoldenEnv(t, gc, agents)
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var p *auth.Principal
	if env.h.authn != nil {
		p = env.h.authn.Anonymous()
	}
	s := newSession(env.h, rec, p)
	rec.send(ctx, RenderConnected(s.authRequired(), env.h.cfg.MaxFrameBytes))

	var out bytes.Buffer
	emit := func() {
		for _, f := range rec.drain() {
			out.WriteString("< ")
			out.Write(f)
			out.WriteByte('\n')
		}
	}
	emit()
	for _, line := range strings.Split(string(ar.Files[transcript].Data), "\n") {
		switch {
		case strings.HasPrefix(line, "< "), line == "":
			continue
		case strings.HasPrefix(line, "#"):
			out.WriteString(line + "\n")
		case strings.HasPrefix(line, "> "):
			out.WriteString(line + "\n")
			s.handle(ctx, []byte(strings.TrimPrefix(line, "> ")))
			settle(t, s)
			emit()
		default:
			t.Fatalf("transcript line %q: want \"> \", \"< \" or \"#\"", line)
		}
	}
	cancel()
	s.end(false)

	got := out.Bytes()
	if *update {
		ar.Files[transcript].Data = got
		if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want := ar.Files[transcript].Data; !bytes.Equal(want, got) {
		t.Errorf("%s: frames differ (run with -update after checking):\n%s", file, testutil.LineDiff(string(want), string(got)))
	}
}
