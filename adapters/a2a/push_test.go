package a2a

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/testutil"
	"github.com/agentgate/agentgate/transport/egress"
)

// hookServer is a webhook receiver: answer decides each POST's status.
type hookServer struct {
	*httptest.Server
	mu       sync.Mutex
	attempts []string // every body received, in order
	accepted []string // the bodies answered 2xx, in order
	headers  []http.Header
}

func newHookServer(t *testing.T, answer func(n int) int) *hookServer {
	t.Helper()
	h := &hookServer{}
	var n atomic.Int64
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		code := answer(int(n.Add(1)))
		h.mu.Lock()
		h.attempts = append(h.attempts, string(b))
		h.headers = append(h.headers, r.Header.Clone())
		if code < 300 {
			h.accepted = append(h.accepted, string(b))
		}
		h.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) snapshot() (attempts, accepted []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.attempts...), append([]string(nil), h.accepted...)
}

var pushAgents = func() []*scriptAgent {
	return []*scriptAgent{
		{ID: "echo", Name: "Echo", Content: "Hello world", Events: []core.Event{
			{Event: core.EventRunContent, Content: "Hello", ContentType: "str"},
			{Event: core.EventRunContent, Content: " world", ContentType: "str"},
			{Event: core.EventRunContentCompleted},
		}},
		{ID: "approver", Name: "Approver", Content: "It is 42.",
			Pause:        []core.ToolExecution{{ToolCallID: "c1", ToolName: "calculator", RequiresConfirmation: true}},
			ResumeEvents: []core.Event{{Event: core.EventRunContent, Content: "It is 42.", ContentType: "str"}}},
	}
}

// expectedUpdates renders the run's events as the push bodies they become.
func expectedUpdates(t *testing.T, eng *core.Engine, runID string) []string {
	t.Helper()
	s, err := eng.Subscribe(context.Background(), runID, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := &Renderer{}
	var out []string
	for {
		ev, err := s.Next(context.Background())
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range r.Render(&ev) {
			out = append(out, string(EncodeItem(V1, it)))
		}
	}
}

// newTestPusher makes a pusher whose webhooks may be on 127.0.0.1 (the
// test servers), unless opt says otherwise.
func newTestPusher(env *goldenEnv, opt pushOptions) *pusher {
	if opt.Egress == nil {
		g, err := egress.New(egress.Config{Allow: []string{"127.0.0.1"}})
		if err != nil {
			panic(err)
		}
		opt.Egress = g
	}
	var n atomic.Int64
	return newPusher(env.eng, opt, slog.New(slog.DiscardHandler), func() string { return "cfg-" + string(rune('0'+n.Add(1))) })
}

// A webhook that fails with 503 a few times gets every update anyway, in
// order, each at least once, with the token and the Authorization header.
func TestPushRetriesUntilAccepted(t *testing.T) {
	t.Parallel()
	env := newGoldenEnv(t, goldenConfig{}, pushAgents())
	hook := newHookServer(t, func(n int) int {
		if n <= 3 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	p := newTestPusher(env, pushOptions{PushSettings{MaxBackoff: 5 * time.Millisecond, MaxAttempts: 5}, PushDelivery{InitialBackoff: time.Millisecond}})
	defer p.close(context.Background())
	run, err := env.eng.Start(context.Background(), core.StartParams{AgentID: "echo", Message: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.set(PushConfig{TaskID: run.RunID, URL: hook.URL + "/hook", Token: "tok", AuthScheme: "Bearer", AuthCredentials: "sec"}, false, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := env.eng.Wait(context.Background(), run.RunID, -1); err != nil {
		t.Fatal(err)
	}
	want := expectedUpdates(t, env.eng, run.RunID)
	testutil.Eventually(t, 5*time.Second, "every update accepted", func() bool { _, acc := hook.snapshot(); return len(acc) >= len(want) })
	attempts, accepted := hook.snapshot()
	for i := range want {
		if accepted[i] != want[i] {
			t.Fatalf("accepted[%d] = %s, want %s", i, accepted[i], want[i])
		}
	}
	if len(attempts) != len(want)+3 {
		t.Errorf("%d attempts for %d updates and 3 failures", len(attempts), len(want))
	}
	for i := 0; i < 4; i++ {
		if attempts[i] != want[0] {
			t.Errorf("attempt %d = %s, want the first update retried", i, attempts[i])
		}
	}
	h := hook.headers[0]
	if h.Get("X-A2A-Notification-Token") != "tok" || h.Get("Authorization") != "Bearer sec" || h.Get("Content-Type") != "application/a2a+json" {
		t.Errorf("headers %v", h)
	}
}

// A webhook that never answers in time neither holds the run up nor keeps
// the pusher from closing.
func TestPushNeverBlocksTheRun(t *testing.T) {
	t.Parallel()
	env := newGoldenEnv(t, goldenConfig{}, pushAgents())
	stuck := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stuck:
		case <-r.Context().Done():
		}
	}))
	defer func() {
		close(stuck) // let the handler go before Close waits for it
		hook.Close()
	}()
	p := newTestPusher(env, pushOptions{PushSettings: PushSettings{Timeout: time.Minute}})
	run, err := env.eng.Start(context.Background(), core.StartParams{AgentID: "echo", Message: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.set(PushConfig{TaskID: run.RunID, URL: hook.URL}, false, ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done, err := env.eng.Wait(ctx, run.RunID, -1)
	if err != nil || done.Status != core.RunCompleted {
		t.Fatalf("run %v %v", done, err)
	}
	// The delivery is stuck: close gives up at its deadline and returns.
	cctx, ccancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer ccancel()
	start := time.Now()
	if err := p.close(cctx); err == nil {
		t.Error("close reported a clean drain of a stuck delivery")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("close took %v", d)
	}
}

// A webhook that always fails gets MaxAttempts tries per update, then the
// next update; one answering 4xx (not 408/429) gets one try.
func TestPushGivesUp(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		code, perUpdate int
	}{{http.StatusInternalServerError, 3}, {http.StatusTooManyRequests, 3}, {http.StatusNotFound, 1}} {
		env := newGoldenEnv(t, goldenConfig{}, pushAgents())
		hook := newHookServer(t, func(int) int { return c.code })
		p := newTestPusher(env, pushOptions{PushSettings{MaxBackoff: time.Millisecond, MaxAttempts: 3}, PushDelivery{InitialBackoff: time.Millisecond}})
		run, err := env.eng.Start(context.Background(), core.StartParams{AgentID: "echo", Message: "hi"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.set(PushConfig{TaskID: run.RunID, URL: hook.URL}, false, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := env.eng.Wait(context.Background(), run.RunID, -1); err != nil {
			t.Fatal(err)
		}
		want := expectedUpdates(t, env.eng, run.RunID)
		testutil.Eventually(t, 5*time.Second, "every attempt", func() bool { a, _ := hook.snapshot(); return len(a) >= len(want)*c.perUpdate })
		time.Sleep(20 * time.Millisecond)
		if a, _ := hook.snapshot(); len(a) != len(want)*c.perUpdate {
			t.Errorf("%d: %d attempts, want %d", c.code, len(a), len(want)*c.perUpdate)
		}
		_ = p.close(context.Background())
	}
}

// The watcher follows a task across a pause: after a continue made
// elsewhere (here, the engine directly: no kick) it notices by polling and
// delivers the rest; the config can be listed, replaced and deleted.
func TestPushFollowsAcrossPause(t *testing.T) {
	t.Parallel()
	env := newGoldenEnv(t, goldenConfig{}, pushAgents())
	hook := newHookServer(t, func(int) int { return http.StatusNoContent })
	p := newTestPusher(env, pushOptions{})
	defer p.close(context.Background())
	ctx := context.Background()
	run, err := env.eng.Start(ctx, core.StartParams{AgentID: "approver", Message: "6*7"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := p.set(PushConfig{TaskID: run.RunID, URL: hook.URL}, false, "")
	if err != nil || cfg.ID == "" {
		t.Fatalf("set: %+v %v", cfg, err)
	}
	if paused, err := env.eng.Wait(ctx, run.RunID, -1); err != nil || paused.Status != core.RunPaused {
		t.Fatalf("%v %v", paused, err)
	}
	testutil.Eventually(t, 5*time.Second, "input-required delivered", func() bool {
		_, acc := hook.snapshot()
		return len(acc) > 0 && json.Valid([]byte(acc[len(acc)-1])) && strings.Contains(acc[len(acc)-1], "TASK_STATE_INPUT_REQUIRED")
	})
	yes := true
	if _, _, err := env.eng.Continue(ctx, core.ContinueParams{RunID: run.RunID, Tools: []core.ToolExecution{{ToolCallID: "c1", Confirmed: &yes}}}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "completed delivered", func() bool {
		_, acc := hook.snapshot()
		return len(acc) > 0 && strings.Contains(acc[len(acc)-1], "TASK_STATE_COMPLETED")
	})
	want := expectedUpdates(t, env.eng, run.RunID)
	_, acc := hook.snapshot()
	if len(acc) != len(want) {
		t.Errorf("%d updates delivered, want %d:\n%v", len(acc), len(want), acc)
	}
	if got := p.list(run.RunID); len(got) != 1 || got[0].ID != cfg.ID {
		t.Errorf("list %+v", got)
	}
	if !p.remove(run.RunID, cfg.ID) || p.remove(run.RunID, cfg.ID) {
		t.Error("remove")
	}
	if _, ok := p.get(run.RunID, ""); ok {
		t.Error("get after remove")
	}
}

// MaxConfigsPerTask bounds a task's configs; a config with a known id
// replaces it.
func TestPushConfigLimit(t *testing.T) {
	t.Parallel()
	env := newGoldenEnv(t, goldenConfig{}, pushAgents())
	p := newTestPusher(env, pushOptions{PushDelivery: PushDelivery{MaxConfigsPerTask: 2}})
	defer p.close(context.Background())
	for _, id := range []string{"a", "b", "a"} {
		if _, err := p.set(PushConfig{ID: id, TaskID: "t", URL: "http://x/" + id}, true, ""); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if _, err := p.set(PushConfig{ID: "c", TaskID: "t", URL: "http://x/c"}, true, ""); err == nil {
		t.Fatal("a third config was accepted")
	}
	if got := p.list("t"); len(got) != 2 || got[0].ID != "b" || got[1].ID != "a" {
		t.Fatalf("%+v", got)
	}
}

// Push notifications name a run's media by their absolute media route
// (no bytes): under the public URL when one is set, else under the base
// URL of the request that set the config.
func TestPushMediaURLsAbsolute(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ public, base string }{
		{"", "http://a2a.test"},
		{"https://gw.example", "https://gw.example"},
	} {
		t.Run("public="+c.public, func(t *testing.T) {
			t.Parallel()
			env := newGoldenEnv(t, goldenConfig{PublicURL: c.public}, []*scriptAgent{{ID: "painter", Name: "Painter", Content: "drawn",
				Media: []core.MediaRef{{ID: "aa11", Kind: core.MediaImage, MIMEType: "image/png", Size: 70},
					{ID: "cc33", Kind: core.MediaDocument, MIMEType: "text/csv", Name: "points.csv", Size: 12}}}})
			out := env.do(t, []string{"POST /a2a/agents/painter",
				`{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":{"messageId":"m1","role":"ROLE_USER","parts":[{"text":"draw"}]},"configuration":{"taskPushNotificationConfig":{"url":"http://hook.test/a2a"}}}}`})
			if !strings.Contains(out, "< 200") || !strings.Contains(out, "TASK_STATE_COMPLETED") {
				t.Fatalf("send: %s", out)
			}
			var calls []string
			deadline := time.Now().Add(10 * time.Second)
			for calls == nil && time.Now().Before(deadline) {
				// working, response artifact, media artifact, completed
				if calls = env.hooks.take(4); calls == nil {
					time.Sleep(5 * time.Millisecond)
				}
			}
			if calls == nil {
				t.Fatal("the webhook got fewer than 4 notifications")
			}
			var media string
			for _, call := range calls {
				if strings.Contains(call, `"artifactId":"media"`) {
					media = call
				}
			}
			i := strings.Index(media, "\n{") // the body follows the request line and headers
			if i < 0 {
				t.Fatalf("no media notification among %q", calls)
			}
			var n struct {
				ArtifactUpdate struct {
					ContextID string `json:"contextId"`
					Artifact  struct {
						Parts []map[string]any `json:"parts"`
					} `json:"artifact"`
				} `json:"artifactUpdate"`
			}
			if err := json.Unmarshal([]byte(media[i+1:]), &n); err != nil {
				t.Fatalf("media notification %q: %v", media, err)
			}
			parts, sess := n.ArtifactUpdate.Artifact.Parts, n.ArtifactUpdate.ContextID
			want := []string{c.base + "/sessions/" + sess + "/media/aa11", c.base + "/sessions/" + sess + "/media/cc33"}
			if len(parts) != 2 || sess == "" || parts[0]["url"] != want[0] || parts[1]["url"] != want[1] || parts[0]["raw"] != nil {
				t.Fatalf("media parts %v, want urls %v (no raw bytes)", parts, want)
			}
		})
	}
}
