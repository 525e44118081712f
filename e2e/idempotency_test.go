package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// postKeyed POSTs a run form with an Idempotency-Key header.
func (g *gateway) postKeyed(t testing.TB, ctx context.Context, agent, key string, form url.Values) *http.Response {
	t.Helper()
	return g.do(t, ctx, http.MethodPost, "/agents/"+agent+"/runs", strings.NewReader(form.Encode()),
		"application/x-www-form-urlencoded", map[string]string{"Idempotency-Key": key})
}

// countEvents counts the frames of one event type.
func countEvents(frames []frame, typ string) int {
	n := 0
	for _, f := range frames {
		if f.Event == typ {
			n++
		}
	}
	return n
}

// TestReplicaIdempotencyKey: a run creation retried with its
// Idempotency-Key on the other replica (as a client whose connection
// dropped would) gets the run the first request created, in each mode,
// and no second run executes; the key with another request is 422;
// concurrent requests with one key make one run; a bad key is 400.
func TestReplicaIdempotencyKey(t *testing.T) {
	t.Parallel()
	a, b := startPair(t, newBackends(t, ""))

	t.Run("BlockingRetryOnB", func(t *testing.T) {
		ctx := testCtx(t, 40*time.Second)
		session, key := "idem-"+randHex(6), "key-"+randHex(8)
		form := url.Values{"message": {"go on"}, "stream": {"false"}, "session_id": {session}}
		first := make(chan run, 1)
		go func() {
			var r run
			decode(t, expectStatus(t, a.postKeyed(t, ctx, "long", key, form), http.StatusOK), &r)
			first <- r
		}()
		// The keyed run is stored before it executes (not deferred): B
		// sees it in its session while A is still executing it (a 5 s
		// run).
		var runs []map[string]any
		deadline := time.Now().Add(15 * time.Second)
		for len(runs) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the keyed blocking run never showed on B")
			}
			time.Sleep(20 * time.Millisecond)
			runs = sessionRuns(t, b.gateway, "long", session)
		}
		if runs[0]["status"] != "RUNNING" {
			t.Fatalf("run as B saw it first: %+v", runs[0])
		}
		// B's retry waits for the run, as a blocking call does, and
		// answers it.
		var retried run
		decode(t, expectStatus(t, b.postKeyed(t, ctx, "long", key, form), http.StatusOK), &retried)
		var orig run
		select {
		case orig = <-first:
		case <-ctx.Done():
			t.Fatal("A's blocking answer never came")
		}
		if retried.RunID != runs[0]["run_id"] || orig.RunID != retried.RunID || retried.Status != "COMPLETED" ||
			retried.Content != orig.Content || retried.EventCount != orig.EventCount {
			t.Fatalf("retry on B: %+v; first answer on A: %+v", retried, orig)
		}
		if runs := sessionRuns(t, a.gateway, "long", session); len(runs) != 1 {
			t.Fatalf("session has %d runs after the retry, want 1: %+v", len(runs), runs)
		}
		frames := resumeGET(t, b.gateway, "long", retried.RunID, "")
		if countEvents(frames, "RunStarted") != 1 || countEvents(frames, "RunCompleted") != 1 {
			t.Fatalf("the run executed more than once: %v", types(frames))
		}

		// The same key with a different request: 422, on either replica,
		// and nothing is started.
		for _, g := range []*replica{a, b} {
			for name, other := range map[string]url.Values{
				"message": {"message": {"go on and on"}, "stream": {"false"}, "session_id": {session}},
				"mode":    {"message": {"go on"}, "stream": {"true"}, "session_id": {session}},
			} {
				body := expectDetail(t, g.postKeyed(t, ctx, "long", key, other), http.StatusUnprocessableEntity)
				if d := body["detail"].(string); !strings.Contains(d, "different request") {
					t.Fatalf("%s on %s: detail %q", name, g.Name, d)
				}
			}
		}
		if runs := sessionRuns(t, b.gateway, "long", session); len(runs) != 1 {
			t.Fatalf("session has %d runs after the conflicting requests, want 1", len(runs))
		}
		// The key is the caller's for this agent only: on another agent it
		// is a new key.
		var other run
		decode(t, expectStatus(t, b.postKeyed(t, ctx, "approver", key, url.Values{"message": {"compute 6*7"}, "stream": {"false"}}), http.StatusOK), &other)
		if other.RunID == retried.RunID || other.AgentID != "approver" {
			t.Fatalf("the key on another agent: %+v", other)
		}
	})

	t.Run("StreamingRetryReplaysFromTheStart", func(t *testing.T) {
		ctx := testCtx(t, 40*time.Second)
		session, key := "idem-"+randHex(6), "key-"+randHex(8)
		form := url.Values{"message": {"tell a story"}, "background": {"true"}, "session_id": {session}}
		resp := a.postKeyed(t, ctx, "story", key, form)
		expectSSE(t, resp)
		f := follow(resp)
		f.waitFrames(t, 3, 15*time.Second)
		resp.Body.Close() // the connection drops
		<-f.done

		retry := b.postKeyed(t, ctx, "story", key, form)
		expectSSE(t, retry)
		frames := readFrames(t, retry.Body)
		retry.Body.Close()
		evs := events(t, frames, 0)
		if len(evs) != storyEvents || evs[0].Event != "RunStarted" || evs[len(evs)-1].Event != "RunCompleted" ||
			countEvents(frames, "RunStarted") != 1 {
			t.Fatalf("retried stream on B: %d events %v", len(evs), types(frames))
		}
		if runs := sessionRuns(t, b.gateway, "story", session); len(runs) != 1 || runs[0]["run_id"] != evs[0].RunID {
			t.Fatalf("session runs after the retry: %+v (stream of %s)", runs, evs[0].RunID)
		}
	})

	t.Run("ConcurrentRequestsMakeOneRun", func(t *testing.T) {
		ctx := testCtx(t, 40*time.Second)
		session, key := "idem-"+randHex(6), "key-"+randHex(8)
		form := url.Values{"message": {"tell a story"}, "background": {"true"}, "stream": {"false"}, "session_id": {session}}
		const callers = 8
		ids := make([]string, callers)
		var wg sync.WaitGroup
		for i := range callers {
			g := a
			if i%2 == 1 {
				g = b
			}
			wg.Go(func() {
				resp := g.postKeyed(t, ctx, "story", key, form)
				var acc struct {
					RunID string `json:"run_id"`
				}
				if resp.StatusCode != http.StatusAccepted {
					t.Errorf("caller %d on %s: status %d: %s", i, g.Name, resp.StatusCode, readAll(t, resp))
					return
				}
				decode(t, readAll(t, resp), &acc)
				ids[i] = acc.RunID
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		for i, id := range ids {
			if id == "" || id != ids[0] {
				t.Fatalf("caller %d got run %q, caller 0 %q", i, id, ids[0])
			}
		}
		done, _ := b.waitStatus(t, "story", ids[0], "COMPLETED")
		if runs := sessionRuns(t, a.gateway, "story", session); len(runs) != 1 {
			t.Fatalf("session has %d runs, want 1", len(runs))
		}
		frames := resumeGET(t, a.gateway, "story", ids[0], "")
		if int64(len(frames)) != done.EventCount || countEvents(frames, "RunStarted") != 1 {
			t.Fatalf("stream of the one run: %v (run says %d events)", types(frames), done.EventCount)
		}
	})

	t.Run("WSRetryOnB", func(t *testing.T) {
		// A socket on A starts a (background) run and drops; the client
		// sends the same start on a socket on B.
		start := map[string]any{"action": "start", "id": "s", "agent_id": "story", "message": "tell me",
			"background": true, "idempotency_key": "key-" + randHex(8)}
		wa, _ := wsDial(t, a.gateway, nil)
		wa.send(start)
		ack := wa.expect("ack")
		wa.untilN(ack.RunID, 5)
		wa.drop()
		wb, _ := wsDial(t, b.gateway, nil)
		wb.send(start)
		if again := wb.expect("ack"); again.RunID != ack.RunID || again.SessionID != ack.SessionID {
			t.Fatalf("ack of the retry on B: %s; first ack %s", again, ack)
		}
		evs := wb.untilEnd(ack.RunID, 0)
		if len(evs) != storyEvents || evs[0].Event != "RunStarted" || evs[len(evs)-1].Event != "RunCompleted" {
			t.Fatalf("retry on B followed %d events: %s", len(evs), eventTypes(evs))
		}
		if runs := sessionRuns(t, b.gateway, "story", ack.SessionID); len(runs) != 1 {
			t.Fatalf("session has %d runs, want 1", len(runs))
		}
		start["message"] = "tell me another"
		wb.send(start)
		if f := wb.expect("error"); f.Code != "invalid" || !strings.Contains(f.Detail, "different request") {
			t.Fatalf("the key with another message: %s", f)
		}
		start["idempotency_key"] = "clé"
		wb.send(start)
		if f := wb.expect("error"); f.Code != "invalid" || !strings.Contains(f.Detail, "idempotency_key") {
			t.Fatalf("a bad key: %s", f)
		}
	})

	t.Run("MCPRetryOnB", func(t *testing.T) {
		ctx := testCtx(t, 40*time.Second)
		args := map[string]any{"agent_id": "story", "message": "tell me", "idempotency_key": "key-" + randHex(8)}
		ca, err := mcpConnect(t, a.gateway, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, first, err := mcpCall(t, ctx, ca, "run_agent", args, nil)
		if err != nil || res.IsError || first.Status != "COMPLETED" {
			t.Fatalf("run_agent on A: %+v, %v", first, err)
		}
		cb, err := mcpConnect(t, b.gateway, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, again, err := mcpCall(t, ctx, cb, "run_agent", args, nil)
		if err != nil || res.IsError || again.RunID != first.RunID || again.Content != first.Content {
			t.Fatalf("retry on B: %+v, %v; first %+v", again, err, first)
		}
		if runs := sessionRuns(t, b.gateway, "story", first.SessionID); len(runs) != 1 {
			t.Fatalf("session has %d runs, want 1", len(runs))
		}
		args["message"] = "tell me another"
		if res, _, err := mcpCall(t, ctx, cb, "run_agent", args, nil); err != nil || !res.IsError || !strings.Contains(mcpText(res), "different request") {
			t.Fatalf("the key with another message: %+v, %v", res, err)
		}
	})

	t.Run("A2AResendOnB", func(t *testing.T) {
		msg := a2aMessage("tell me", nil)
		var first, again struct {
			Task a2aTask `json:"task"`
		}
		a2aResult(t, a.gateway, "", "/a2a/agents/story", "SendMessage", msg, &first)
		a2aResult(t, b.gateway, "", "/a2a/agents/story", "SendMessage", msg, &again)
		if first.Task.Status.State != "TASK_STATE_COMPLETED" || again.Task.ID != first.Task.ID ||
			again.Task.ContextID != first.Task.ContextID || again.Task.text() != first.Task.text() {
			t.Fatalf("re-sent message on B: task %+v; first %+v", again.Task, first.Task)
		}
		if runs := sessionRuns(t, b.gateway, "story", first.Task.ContextID); len(runs) != 1 {
			t.Fatalf("context has %d runs, want 1", len(runs))
		}
		// Another message under the same messageId is refused.
		msg["message"].(map[string]any)["parts"] = []any{map[string]any{"text": "another"}}
		if _, out := a2aCall(t, b.gateway, "", "/a2a/agents/story", "SendMessage", msg); out.Error == nil ||
			!strings.Contains(out.Error.Message, "different request") {
			t.Fatalf("another message with the same messageId: %+v", out.Error)
		}
		// A new messageId is a new task.
		var other struct {
			Task a2aTask `json:"task"`
		}
		a2aResult(t, b.gateway, "", "/a2a/agents/story", "SendMessage", a2aMessage("tell me", nil), &other)
		if other.Task.ID == first.Task.ID {
			t.Fatalf("a new messageId got the first task")
		}
	})

	t.Run("BadKeyIs400", func(t *testing.T) {
		ctx := testCtx(t, 20*time.Second)
		form := url.Values{"message": {"x"}, "stream": {"false"}}
		for _, bad := range []string{strings.Repeat("k", 256), "clé"} {
			body := expectDetail(t, a.postKeyed(t, ctx, "story", bad, form), http.StatusBadRequest)
			if d := body["detail"].(string); !strings.Contains(d, "Idempotency-Key") {
				t.Fatalf("key %q: detail %q does not name the header", bad, d)
			}
		}
	})

	t.Run("OpenAPIDocumentsTheHeader", func(t *testing.T) {
		ctx := testCtx(t, 20*time.Second)
		var doc struct {
			Paths map[string]map[string]struct {
				Parameters []struct {
					Name string `json:"name"`
					In   string `json:"in"`
				} `json:"parameters"`
			} `json:"paths"`
		}
		decode(t, expectStatus(t, a.get(t, ctx, "/openapi.json"), http.StatusOK), &doc)
		for _, p := range doc.Paths["/agents/{agent_id}/runs"]["post"].Parameters {
			if p.Name == "Idempotency-Key" && p.In == "header" {
				return
			}
		}
		t.Fatalf("POST /agents/{agent_id}/runs does not document the Idempotency-Key header: %+v", doc.Paths["/agents/{agent_id}/runs"]["post"])
	})
}

// TestIdempotencyKeyPerCaller: a key is its caller's: bob sending alice's
// key with her very request gets a run of his own — never hers, nor a 422
// that would tell him the key was taken — and each gets their own run
// back on a retry.
func TestIdempotencyKeyPerCaller(t *testing.T) {
	t.Parallel()
	g := startGateway(t, jwtConfig("auth:\n  jwt_algorithm: HS256\n"))
	alice, bob := mint(t, "alice", userScopes...), mint(t, "bob", userScopes...)
	form := url.Values{"message": {"hello"}, "stream": {"false"}}
	post := func(tok string, form url.Values, status int) fullRun {
		t.Helper()
		h := bearer(tok)
		h["Idempotency-Key"] = "the-same-key"
		resp, b := callHeader(t, g, http.MethodPost, "/agents/assistant/runs", formBody(form), h)
		if resp.StatusCode != status {
			t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, b)
		}
		var r fullRun
		if status == http.StatusOK {
			decode(t, b, &r)
		}
		return r
	}
	ra := post(alice, form, http.StatusOK)
	rb := post(bob, form, http.StatusOK)
	if rb.RunID == ra.RunID || rb.UserID != "bob" || ra.UserID != "alice" {
		t.Fatalf("bob with alice's key got %+v; alice's run %+v", rb, ra)
	}
	if again := post(alice, form, http.StatusOK); again.RunID != ra.RunID {
		t.Fatalf("alice's retry got %s, want %s", again.RunID, ra.RunID)
	}
	if again := post(bob, form, http.StatusOK); again.RunID != rb.RunID {
		t.Fatalf("bob's retry got %s, want %s", again.RunID, rb.RunID)
	}
	post(bob, url.Values{"message": {"something else"}, "stream": {"false"}}, http.StatusUnprocessableEntity)
}
