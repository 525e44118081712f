package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowChunks is the number of RunContent events of a slow run: RunStarted,
// ModelRequestStarted, the chunks, ModelRequestCompleted,
// RunContentCompleted and RunCompleted make slowChunks+5 events.
const slowChunks = 30

func slowConfig(extra string) string {
	return fmt.Sprintf(`
models:
  slow:
    provider: scripted
    model: slow-1
    chunks: %d
    chunk_delay: 30ms
    script:
      - reply: "%s"
agents:
  - id: slow
    name: Slow
    model: slow
%s`, slowChunks, words(slowChunks), extra)
}

const slowEvents = slowChunks + 5

// resumeKeep is how many events a client reads before dropping.
const resumeKeep = 5

// startDetached starts a background+stream run, reads its first n frames
// and drops the connection. It returns the frames read.
func startDetached(t *testing.T, g *gateway, agent string, n int) []frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp := g.postForm(t, ctx, "/agents/"+agent+"/runs", url.Values{
		"message": {"tell me a long story"}, "stream": {"true"}, "background": {"true"}})
	expectSSE(t, resp)
	sr := newSSEReader(resp.Body)
	var frames []frame
	for len(frames) < n {
		f, err := sr.Next()
		if err != nil {
			t.Fatalf("after %d frames: %v", len(frames), err)
		}
		frames = append(frames, f)
	}
	resp.Body.Close() // drop the connection mid-stream
	events(t, frames, 0)
	return frames
}

// resumeGET follows GET .../stream with Last-Event-ID; resumePOST follows
// POST .../resume with last_event_index. Both read the stream to its end.
func resumeGET(t testing.TB, g *gateway, agent, runID, lastID string) []frame {
	t.Helper()
	ctx := testCtx(t, 20*time.Second)
	resp := g.do(t, ctx, http.MethodGet, "/agents/"+agent+"/runs/"+runID+"/stream", nil, "", map[string]string{"Last-Event-ID": lastID})
	expectSSE(t, resp)
	defer resp.Body.Close()
	return readFrames(t, resp.Body)
}

func resumePOST(t testing.TB, g *gateway, agent, runID, last string) []frame {
	t.Helper()
	ctx := testCtx(t, 20*time.Second)
	resp := g.postMultipart(t, ctx, "/agents/"+agent+"/runs/"+runID+"/resume", url.Values{"last_event_index": {last}})
	expectSSE(t, resp)
	defer resp.Body.Close()
	return readFrames(t, resp.Body)
}

// checkTail checks that frames are exactly the events first..slowEvents-1,
// ending with RunCompleted, and returns the content they carry.
func checkTail(t testing.TB, frames []frame, first int64, runID string) string {
	t.Helper()
	evs := events(t, frames, first)
	if want := slowEvents - int(first); len(evs) != want {
		t.Fatalf("got %d events after %d, want %d: %v", len(evs), first-1, want, types(frames))
	}
	last := evs[len(evs)-1]
	if last.Event != "RunCompleted" {
		t.Fatalf("last event %s, want RunCompleted: %v", last.Event, types(frames))
	}
	var content strings.Builder
	for _, ev := range evs {
		if ev.RunID != runID {
			t.Fatalf("event %d of run %s, want %s", ev.EventIndex, ev.RunID, runID)
		}
		if ev.Event == "RunContent" {
			content.WriteString(ev.Content)
		}
	}
	return content.String()
}

func contentOf(t testing.TB, frames []frame) string {
	var b strings.Builder
	for _, f := range frames {
		if ev := f.decodeEvent(t); ev.Event == "RunContent" {
			b.WriteString(ev.Content)
		}
	}
	return b.String()
}

// TestResume drops a detached stream after resumeKeep events and resumes it
// both ways (GET .../stream + Last-Event-ID, POST .../resume +
// last_event_index), live and after the run finished: each resume yields
// exactly the events after the cursor, then the live ones, ending with
// RunCompleted.
func TestResume(t *testing.T) {
	t.Parallel()
	g := startGateway(t, slowConfig(""))
	reply := words(slowChunks)

	t.Run("live", func(t *testing.T) {
		t.Parallel()
		head := startDetached(t, g, "slow", resumeKeep)
		runID := head[0].decodeEvent(t).RunID
		cursor := strconv.Itoa(resumeKeep - 1)
		// The run must still be going, so the resumes get live events too.
		if r, b := g.getRun(t, testCtx(t, 5*time.Second), "slow", runID); r.Status != "RUNNING" {
			t.Fatalf("the run is no longer live (the test needs a slower run): %s", b)
		}
		var wg sync.WaitGroup
		var viaGET, viaPOST []frame
		wg.Add(2)
		go func() { defer wg.Done(); viaGET = resumeGET(t, g, "slow", runID, cursor) }()
		go func() { defer wg.Done(); viaPOST = resumePOST(t, g, "slow", runID, cursor) }()
		wg.Wait()
		if t.Failed() {
			return
		}
		for name, frames := range map[string][]frame{"GET stream": viaGET, "POST resume": viaPOST} {
			got := contentOf(t, head) + checkTail(t, frames, resumeKeep, runID)
			if got != reply {
				t.Errorf("%s: head + resumed content = %q, want %q", name, got, reply)
			}
		}
		// Dropping a detached stream does not cancel the run.
		g.waitStatus(t, "slow", runID, "COMPLETED")
	})

	t.Run("finished", func(t *testing.T) {
		t.Parallel()
		head := startDetached(t, g, "slow", resumeKeep)
		runID := head[0].decodeEvent(t).RunID
		r, _ := g.waitStatus(t, "slow", runID, "COMPLETED")
		if r.EventCount != slowEvents {
			t.Fatalf("event_count %d, want %d", r.EventCount, slowEvents)
		}
		cursor := strconv.Itoa(resumeKeep - 1)
		for name, frames := range map[string][]frame{
			"GET stream":  resumeGET(t, g, "slow", runID, cursor),
			"POST resume": resumePOST(t, g, "slow", runID, cursor),
		} {
			if got := contentOf(t, head) + checkTail(t, frames, resumeKeep, runID); got != reply {
				t.Errorf("%s: content %q, want %q", name, got, reply)
			}
		}
		// From the start (-1) and from the second-to-last event.
		checkTail(t, resumePOST(t, g, "slow", runID, "-1"), 0, runID)
		checkTail(t, resumeGET(t, g, "slow", runID, strconv.Itoa(slowEvents-2)), slowEvents-1, runID)

		ctx := testCtx(t, 10*time.Second)
		// At the last event: nothing left. GET answers 204 (an EventSource
		// stops reconnecting); POST resume answers an empty stream.
		last := strconv.Itoa(slowEvents - 1)
		resp := g.do(t, ctx, http.MethodGet, "/agents/slow/runs/"+runID+"/stream", nil, "", map[string]string{"Last-Event-ID": last})
		expectStatus(t, resp, http.StatusNoContent)
		if frames := resumePOST(t, g, "slow", runID, last); len(frames) != 0 {
			t.Errorf("resume at the last event: %v", types(frames))
		}

		// Beyond the end: 400.
		beyond := strconv.Itoa(slowEvents)
		resp = g.do(t, ctx, http.MethodGet, "/agents/slow/runs/"+runID+"/stream", nil, "", map[string]string{"Last-Event-ID": beyond})
		expectDetail(t, resp, http.StatusBadRequest)
		expectDetail(t, g.postForm(t, ctx, "/agents/slow/runs/"+runID+"/resume", url.Values{"last_event_index": {beyond}}), http.StatusBadRequest)
	})

	t.Run("bad_cursor", func(t *testing.T) {
		t.Parallel()
		head := startDetached(t, g, "slow", 1)
		runID := head[0].decodeEvent(t).RunID
		ctx := testCtx(t, 10*time.Second)
		// Not a number.
		for _, bad := range []string{"abc", "1.5", "-2", "9999999999999999999999"} {
			expectDetail(t, g.postForm(t, ctx, "/agents/slow/runs/"+runID+"/resume", url.Values{"last_event_index": {bad}}), http.StatusBadRequest)
			resp := g.do(t, ctx, http.MethodGet, "/agents/slow/runs/"+runID+"/stream", nil, "", map[string]string{"Last-Event-ID": bad})
			expectDetail(t, resp, http.StatusBadRequest)
		}
		// Beyond the end of a live run.
		expectDetail(t, g.postForm(t, ctx, "/agents/slow/runs/"+runID+"/resume", url.Values{"last_event_index": {"1000"}}), http.StatusBadRequest)
		resp := g.do(t, ctx, http.MethodGet, "/agents/slow/runs/"+runID+"/stream", nil, "", map[string]string{"Last-Event-ID": "1000"})
		expectDetail(t, resp, http.StatusBadRequest)
		// Unknown run.
		expectDetail(t, g.postForm(t, ctx, "/agents/slow/runs/no-such-run/resume", url.Values{"last_event_index": {"1"}}), http.StatusNotFound)
		g.waitStatus(t, "slow", runID, "COMPLETED")
	})
}

// TestResumeTrimmed keeps only 5 events per run: a resume whose cursor the
// log has trimmed past is refused with 410 and first_available_index, and a
// resume from the cursor just before first_available_index gets exactly the
// retained events (resume is exact or refused).
func TestResumeTrimmed(t *testing.T) {
	t.Parallel()
	const keep = 5
	g := startGateway(t, strings.Replace(slowConfig("event_log:\n  max_events_per_run: 5\n"), "chunk_delay: 30ms", "chunk_delay: 2ms", 1))
	ctx := testCtx(t, 20*time.Second)

	resp := g.postForm(t, ctx, "/agents/slow/runs", url.Values{"message": {"go"}, "stream": {"false"}, "background": {"true"}})
	var acc run
	decode(t, expectStatus(t, resp, http.StatusAccepted), &acc)
	r, _ := g.waitStatus(t, "slow", acc.RunID, "COMPLETED")
	first := r.EventCount - keep

	gone := func(t *testing.T, resp *http.Response) {
		t.Helper()
		body := expectDetail(t, resp, http.StatusGone)
		fa, ok := body["first_available_index"].(float64)
		if !ok || int64(fa) != first {
			t.Errorf("410 body %v: first_available_index should be %d", body, first)
		}
	}
	for _, cursor := range []string{"0", "3", strconv.FormatInt(first-2, 10)} {
		gone(t, g.postForm(t, ctx, "/agents/slow/runs/"+acc.RunID+"/resume", url.Values{"last_event_index": {cursor}}))
		gone(t, g.do(t, ctx, http.MethodGet, "/agents/slow/runs/"+acc.RunID+"/stream", nil, "", map[string]string{"Last-Event-ID": cursor}))
	}
	// The whole stream from the start is gone too (no silent partial replay).
	gone(t, g.postForm(t, ctx, "/agents/slow/runs/"+acc.RunID+"/resume", url.Values{"last_event_index": {"-1"}}))

	// Cursors inside the retained window work.
	checkTail(t, resumePOST(t, g, "slow", acc.RunID, strconv.FormatInt(first, 10)), first+1, acc.RunID)

	// The 410 says the first available index is `first`: asking for the
	// events after first-1 must give exactly first..end.
	t.Run("from_first_available_index", func(t *testing.T) {
		resp := g.postForm(t, ctx, "/agents/slow/runs/"+acc.RunID+"/resume", url.Values{"last_event_index": {strconv.FormatInt(first-1, 10)}})
		if resp.StatusCode != http.StatusOK {
			b := readAll(t, resp)
			t.Fatalf("resume after %d (the 410 named %d as the first available index): status %d %s — event %d can never be read",
				first-1, first, resp.StatusCode, b, first)
		}
		defer resp.Body.Close()
		checkTail(t, readFrames(t, resp.Body), first, acc.RunID)
	})

	// While the run is live, a cursor overtaken by trimming is refused too.
	t.Run("live", func(t *testing.T) {
		g2 := startGateway(t, slowConfig("event_log:\n  max_events_per_run: 5\n"))
		ctx := testCtx(t, 20*time.Second)
		head := startDetached(t, g2, "slow", keep+3)
		runID := head[0].decodeEvent(t).RunID
		body := expectDetail(t, g2.postForm(t, ctx, "/agents/slow/runs/"+runID+"/resume", url.Values{"last_event_index": {"0"}}), http.StatusGone)
		if fa, ok := body["first_available_index"].(float64); !ok || int64(fa) < 3 {
			t.Errorf("410 body %v", body)
		}
		if r, b := g2.getRun(t, ctx, "slow", runID); r.Status != "RUNNING" {
			t.Errorf("the run was no longer live when the 410 came (the test needs a slower run): %s", b)
		}
		// A cursor at the live edge still works.
		last := head[len(head)-1].decodeEvent(t).EventIndex
		checkTail(t, resumeGET(t, g2, "slow", runID, strconv.FormatInt(last, 10)), last+1, runID)
	})
}
