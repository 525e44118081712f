package e2e

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestReplicaBlockingRuns: a blocking run (stream=false) is stored and its
// events appended once, when it ends — so a run that pauses on A reads
// the same, gapless, on B and continues there — and one that runs longer
// than tuning.store_delay shows on B while it runs: B finds it in its
// session, follows its stream from the start and cancels it, and A's
// blocking answer is the cancelled run.
func TestReplicaBlockingRuns(t *testing.T) {
	t.Parallel()
	a, b := startPair(t, newBackends(t, ""))

	t.Run("PauseOnAContinueOnB", func(t *testing.T) {
		ctx := testCtx(t, 30*time.Second)
		var paused run
		decode(t, expectStatus(t, a.postForm(t, ctx, "/agents/approver/runs",
			url.Values{"message": {"compute 6*7"}, "stream": {"false"}}), http.StatusOK), &paused)
		if paused.Status != "PAUSED" || paused.EventCount < 2 {
			t.Fatalf("blocking answer on A: %+v", paused)
		}
		if r, body := b.getRun(t, ctx, "approver", paused.RunID); r.Status != "PAUSED" || r.EventCount != paused.EventCount {
			t.Fatalf("paused run as read on B: %s", body)
		}
		frames := resumeGET(t, b.gateway, "approver", paused.RunID, "")
		evs := events(t, frames, 0)
		if int64(len(evs)) != paused.EventCount || evs[0].Event != "RunStarted" || evs[len(evs)-1].Event != "RunPaused" {
			t.Fatalf("stream of the paused run read on B: %v (run says %d events)", types(frames), paused.EventCount)
		}
		resp := b.postForm(t, ctx, "/agents/approver/runs/"+paused.RunID+"/continue",
			url.Values{"tools": {decided(t, frames[len(frames)-1], true, "")}})
		expectSSE(t, resp)
		rest := readFrames(t, resp.Body)
		resp.Body.Close()
		tail := events(t, rest, paused.EventCount)
		if len(tail) == 0 || tail[0].Event != "RunContinued" || tail[len(tail)-1].Event != "RunCompleted" {
			t.Fatalf("continue on B: %v", types(rest))
		}
		total := paused.EventCount + int64(len(tail))
		if r, body := a.getRun(t, ctx, "approver", paused.RunID); r.Status != "COMPLETED" || r.EventCount != total {
			t.Fatalf("run as read on A after the continue on B: %s", body)
		}
	})

	t.Run("LongRunShowsOnB", func(t *testing.T) {
		ctx := testCtx(t, 30*time.Second)
		session := "blocking-" + randHex(6)
		answer := make(chan run, 1)
		go func() {
			var r run
			decode(t, expectStatus(t, a.postForm(t, ctx, "/agents/long/runs",
				url.Values{"message": {"go on"}, "stream": {"false"}, "session_id": {session}}), http.StatusOK), &r)
			answer <- r
		}()
		// After tuning.store_delay (default 1 s) the run is in its session,
		// as read on B.
		var runs []run
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp := b.get(t, ctx, "/sessions/"+session+"/runs")
			if resp.StatusCode == http.StatusOK {
				decode(t, expectStatus(t, resp, http.StatusOK), &runs)
				if len(runs) == 1 {
					break
				}
			} else {
				resp.Body.Close()
			}
			if time.Now().After(deadline) {
				t.Fatal("the long blocking run never showed in its session on B")
			}
			time.Sleep(50 * time.Millisecond)
		}
		runID := runs[0].RunID
		if runs[0].Status != "RUNNING" {
			t.Fatalf("run as listed on B: %+v", runs[0])
		}
		// B follows it from the start, live.
		resp := b.get(t, ctx, "/agents/long/runs/"+runID+"/stream?last_event_index=-1")
		expectSSE(t, resp)
		f := follow(resp)
		f.waitFrames(t, 3, 10*time.Second)
		expectStatus(t, b.postForm(t, ctx, "/agents/long/runs/"+runID+"/cancel", nil), http.StatusOK)
		res := f.wait(t, 10*time.Second)
		if res.Err != nil {
			t.Fatalf("B's stream broke: %v", res.Err)
		}
		evs, errData := checkDense(t, res.Frames, 0)
		if errData != "" || evs[len(evs)-1].Event != "RunCancelled" {
			t.Fatalf("B's stream: %v %s", types(res.Frames), errData)
		}
		select {
		case got := <-answer:
			if got.RunID != runID || got.Status != "CANCELLED" || got.EventCount != int64(len(evs)) {
				t.Fatalf("A's blocking answer: %+v; B saw %d events", got, len(evs))
			}
		case <-time.After(10 * time.Second):
			t.Fatal("A's blocking request did not end after the cancel on B")
		}
	})
}
