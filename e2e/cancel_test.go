package e2e

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
)

// longConfig has an agent whose reply takes about 200 × 20 ms = 4 s, far
// longer than any cancel takes; heartbeats are frequent so a dropped
// client is noticed even between chunks.
var longConfig = fmt.Sprintf(`
http:
  heartbeat: 200ms
models:
  long:
    provider: scripted
    model: long-1
    chunks: 200
    chunk_delay: 20ms
    script:
      - reply: "%s"
agents:
  - id: long
    name: Long
    model: long
`, words(200))

// TestCancel cancels a streaming run from a second request: the stream ends
// with RunCancelled and the stored run is CANCELLED.
func TestCancel(t *testing.T) {
	t.Parallel()
	g := startGateway(t, longConfig)

	t.Run("from_second_request", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 20*time.Second)
		resp := g.postForm(t, ctx, "/agents/long/runs", url.Values{"message": {"go on"}})
		expectSSE(t, resp)
		defer resp.Body.Close()
		sr := newSSEReader(resp.Body)
		var frames []frame
		for len(frames) < 4 {
			f, err := sr.Next()
			if err != nil {
				t.Fatalf("after %d frames: %v", len(frames), err)
			}
			frames = append(frames, f)
		}
		runID := frames[0].decodeEvent(t).RunID

		b := expectStatus(t, g.postForm(t, ctx, "/agents/long/runs/"+runID+"/cancel", nil), http.StatusOK)
		var cb struct {
			RunID      string `json:"run_id"`
			Status     string `json:"status"`
			Cancelling bool   `json:"cancelling"`
			Detail     string `json:"detail"`
		}
		decode(t, b, &cb)
		if cb.RunID != runID || cb.Status != "RUNNING" || !cb.Cancelling || !strings.Contains(cb.Detail, "cancelling") {
			t.Errorf("cancel answer of a running run: %s; want status RUNNING, cancelling true and a detail saying so", b)
		}

		// The rest of the stream: live events, then RunCancelled, then the end.
		start := time.Now()
		for {
			f, err := sr.Next()
			if err != nil {
				t.Fatalf("stream ended without RunCancelled after %v: %v; frames %v", time.Since(start), err, types(frames))
			}
			frames = append(frames, f)
			if f.Event == "RunCancelled" {
				break
			}
		}
		if time.Since(start) > 3*time.Second {
			t.Errorf("RunCancelled came %v after the cancel", time.Since(start))
		}
		if f, err := sr.Next(); err == nil {
			t.Errorf("a frame after RunCancelled: %s", f.Raw)
		}
		evs := events(t, frames, 0)
		if last := evs[len(evs)-1]; last.Reason == "" {
			t.Errorf("RunCancelled without a reason: %s", frames[len(frames)-1].Data)
		}
		r, body := g.getRun(t, ctx, "long", runID)
		if r.Status != "CANCELLED" || r.EventCount != int64(len(frames)) {
			t.Errorf("after the stream ended with RunCancelled (%d events): %s", len(frames), body)
		}

		// Cancelling again leaves it as it is; the whole stream replays.
		b = expectStatus(t, g.postForm(t, ctx, "/agents/long/runs/"+runID+"/cancel", nil), http.StatusOK)
		cb.Cancelling = true
		decode(t, b, &cb)
		if cb.Status != "CANCELLED" || cb.Cancelling {
			t.Errorf("second cancel: %s; want CANCELLED, cancelling false", b)
		}
		replay := resumeGET(t, g, "long", runID, "-1")
		if len(replay) != len(frames) || replay[len(replay)-1].Event != "RunCancelled" {
			t.Errorf("replay of the cancelled run: %v", types(replay))
		}
	})

	t.Run("background_before_it_ends", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 20*time.Second)
		var acc run
		decode(t, expectStatus(t, g.postForm(t, ctx, "/agents/long/runs", url.Values{
			"message": {"go on"}, "stream": {"false"}, "background": {"true"}}), http.StatusAccepted), &acc)
		expectStatus(t, g.postForm(t, ctx, "/agents/long/runs/"+acc.RunID+"/cancel", nil), http.StatusOK)
		g.waitStatus(t, "long", acc.RunID, "CANCELLED")
		frames := resumeGET(t, g, "long", acc.RunID, "-1")
		events(t, frames, 0)
		if len(frames) == 0 || frames[len(frames)-1].Event != "RunCancelled" {
			t.Errorf("stream of a cancelled background run: %v", types(frames))
		}
	})

	t.Run("unknown_run", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 10*time.Second)
		expectDetail(t, g.postForm(t, ctx, "/agents/long/runs/nope/cancel", nil), http.StatusNotFound)
	})
}

// TestForegroundDisconnectCancels drops the client of a foreground stream:
// the run is cancelled. A detached (background) stream's client dropping
// does not cancel its run.
func TestForegroundDisconnectCancels(t *testing.T) {
	t.Parallel()
	g := startGateway(t, longConfig)

	drop := func(t *testing.T, form url.Values) string {
		ctx := testCtx(t, 20*time.Second)
		resp := g.postMultipart(t, ctx, "/agents/long/runs", form)
		expectSSE(t, resp)
		sr := newSSEReader(resp.Body)
		f, err := sr.Next()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if _, err := sr.Next(); err != nil {
				t.Fatal(err)
			}
		}
		resp.Body.Close()
		return f.decodeEvent(t).RunID
	}

	t.Run("foreground", func(t *testing.T) {
		t.Parallel()
		runID := drop(t, url.Values{"message": {"go on"}, "stream": {"true"}, "on_disconnect": {"cancel"}})
		g.waitStatus(t, "long", runID, "CANCELLED")
		frames := resumeGET(t, g, "long", runID, "-1")
		events(t, frames, 0)
		if frames[len(frames)-1].Event != "RunCancelled" {
			t.Errorf("stream of the dropped run: %v", types(frames))
		}
	})

	t.Run("background_stream", func(t *testing.T) {
		t.Parallel()
		runID := drop(t, url.Values{"message": {"go on"}, "stream": {"true"}, "background": {"true"}})
		// It goes on producing events well after the drop (20 chunks of
		// 20 ms, longer than the 200 ms heartbeat that notices a drop).
		ctx := testCtx(t, 20*time.Second)
		resp := g.do(t, ctx, http.MethodGet, "/agents/long/runs/"+runID+"/stream", nil, "", map[string]string{"Last-Event-ID": "3"})
		expectSSE(t, resp)
		sr := newSSEReader(resp.Body)
		for i := 0; i < 20; i++ {
			f, err := sr.Next()
			if err != nil {
				t.Fatalf("following the detached run after its client dropped: %v", err)
			}
			if ev := f.decodeEvent(t); ev.EventIndex != int64(4+i) || ev.Event != "RunContent" {
				t.Fatalf("a detached run whose client dropped: event %s at %d", ev.Event, ev.EventIndex)
			}
		}
		resp.Body.Close()
		if r, b := g.getRun(t, ctx, "long", runID); r.Status != "RUNNING" {
			t.Fatalf("a detached run whose client dropped: %s", b)
		}
		expectStatus(t, g.postForm(t, testCtx(t, 5*time.Second), "/agents/long/runs/"+runID+"/cancel", nil), http.StatusOK)
		g.waitStatus(t, "long", runID, "CANCELLED")
	})
}

// TestShutdownEndsStreams sends SIGTERM while a foreground and a detached
// stream are open: runs still going when the shutdown timeout (2 s here)
// ends are cancelled, each open stream gets its final RunCancelled frame,
// and the process exits 0.
func TestShutdownEndsStreams(t *testing.T) {
	t.Parallel()
	g := startGateway(t, strings.Replace(longConfig, "chunk_delay: 20ms", "chunk_delay: 50ms", 1)) // about 10 s per run
	ctx := testCtx(t, 30*time.Second)

	type result struct {
		frames []frame
		err    error
	}
	follow := func(form url.Values) (<-chan result, string) {
		resp := g.postForm(t, ctx, "/agents/long/runs", form)
		expectSSE(t, resp)
		sr := newSSEReader(resp.Body)
		first, err := sr.Next()
		if err != nil {
			t.Fatal(err)
		}
		out := make(chan result, 1)
		go func() {
			defer resp.Body.Close()
			frames := []frame{first}
			for {
				f, err := sr.Next()
				if errors.Is(err, io.EOF) {
					out <- result{frames: frames}
					return
				}
				if err != nil {
					out <- result{frames: frames, err: err}
					return
				}
				frames = append(frames, f)
			}
		}()
		return out, first.decodeEvent(t).RunID
	}
	fg, _ := follow(url.Values{"message": {"go on"}})
	bg, _ := follow(url.Values{"message": {"go on"}, "stream": {"true"}, "background": {"true"}})

	start := time.Now()
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]<-chan result{"foreground": fg, "background": bg} {
		select {
		case res := <-ch:
			if res.err != nil {
				t.Errorf("%s stream broke at shutdown after %v: %v; frames %v", name, time.Since(start), res.err, types(res.frames))
				continue
			}
			if f := res.frames[len(res.frames)-1]; f.Event == "error" {
				t.Errorf("%s stream ended at shutdown with an error frame instead of RunCancelled: %s (after %v)", name, f.Data, time.Since(start))
				continue
			}
			evs := events(t, res.frames, 0)
			if last := evs[len(evs)-1]; last.Event != "RunCancelled" {
				t.Errorf("%s stream ended at shutdown with %s, want RunCancelled: %v", name, last.Event, types(res.frames))
			}
		case <-ctx.Done():
			t.Fatalf("%s stream still open %v after SIGTERM", name, time.Since(start))
		}
	}
	select {
	case <-g.exited:
		if g.err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", g.err, tail(g.Logs(), 4000))
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the gateway has not exited %v after SIGTERM", time.Since(start))
	}
}
