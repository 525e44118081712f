package e2e

// Multi-replica tests: two gateway processes (A and B) on one Postgres
// (each test in its own schema) and one Redis (each test under its own key
// prefix). Start on A, resume on B; cancel from B; pause on A, continue on
// B; SIGKILL A mid-run; a background run outliving its replica; Redis
// restarted under a live stream; readiness and fail-fast start.
//
// Postgres is $TEST_DATABASE_URL (default postgres://root@127.0.0.1:5432/test)
// and Redis $TEST_REDIS_URL (default redis://127.0.0.1:6379/0); a test whose
// server does not answer fails, it never skips.

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentgate/agentgate/storage/postgres/pgtest"
)

// checkRunTail checks that frames are exactly the events first..total-1
// of runID, ending with RunCompleted, and returns their content.
func checkRunTail(t testing.TB, frames []frame, first, total int64, runID string) string {
	t.Helper()
	evs := events(t, frames, first)
	if int64(len(evs)) != total-first {
		t.Fatalf("got %d events after %d, want %d: %v", len(evs), first-1, total-first, types(frames))
	}
	if last := evs[len(evs)-1]; last.Event != "RunCompleted" {
		t.Fatalf("last event %s, want RunCompleted: %v", last.Event, types(frames))
	}
	var b strings.Builder
	for _, ev := range evs {
		if ev.RunID != runID {
			t.Fatalf("event %d belongs to run %s, want %s", ev.EventIndex, ev.RunID, runID)
		}
		if ev.Event == "RunContent" {
			b.WriteString(ev.Content)
		}
	}
	return b.String()
}

// TestReplicaResume starts a detached stream on A, drops it after a few
// events and resumes on B, both ways (GET .../stream + Last-Event-ID, POST
// .../resume + last_event_index), while the run is still executing on A:
// B serves exactly the rest, gapless, without duplicates, to RunCompleted.
func TestReplicaResume(t *testing.T) {
	t.Parallel()
	a, b := startPair(t, newBackends(t, ""))
	const keep = 5
	reply := words(storyChunks)

	head := startDetached(t, a.gateway, "story", keep)
	runID := head[0].decodeEvent(t).RunID
	cursor := strconv.Itoa(keep - 1)
	if r, body := b.getRun(t, testCtx(t, 5*time.Second), "story", runID); r.Status != "RUNNING" && r.Status != "PENDING" {
		t.Fatalf("the run is no longer live when B resumes it (the test needs a slower run): %s", body)
	}
	var wg sync.WaitGroup
	var viaGET, viaPOST []frame
	wg.Add(2)
	go func() { defer wg.Done(); viaGET = resumeGET(t, b.gateway, "story", runID, cursor) }()
	go func() { defer wg.Done(); viaPOST = resumePOST(t, b.gateway, "story", runID, cursor) }()
	wg.Wait()
	if t.Failed() {
		return
	}
	for name, frames := range map[string][]frame{"GET stream on B": viaGET, "POST resume on B": viaPOST} {
		if got := contentOf(t, head) + checkRunTail(t, frames, keep, storyEvents, runID); got != reply {
			t.Errorf("%s: head (A) + resumed (B) content = %q, want %q", name, got, reply)
		}
	}
	// Both replicas read the same final state.
	for _, g := range []*replica{a, b} {
		r, body := g.waitStatus(t, "story", runID, "COMPLETED")
		if r.EventCount != storyEvents || r.Content != reply {
			t.Errorf("run as read on %s: %s", g.Name, body)
		}
	}
	// After the end: the same cursor on B, and the whole stream on A.
	checkRunTail(t, resumeGET(t, b.gateway, "story", runID, cursor), keep, storyEvents, runID)
	checkRunTail(t, resumePOST(t, b.gateway, "story", runID, cursor), keep, storyEvents, runID)
	checkRunTail(t, resumePOST(t, a.gateway, "story", runID, "-1"), 0, storyEvents, runID)
}

// TestReplicaCancel cancels from B a foreground run executing on A: A's
// stream ends with RunCancelled, and both replicas read CANCELLED.
func TestReplicaCancel(t *testing.T) {
	t.Parallel()
	a, b := startPair(t, newBackends(t, ""))
	ctx := testCtx(t, 30*time.Second)

	resp := a.postForm(t, ctx, "/agents/long/runs", url.Values{"message": {"go on"}})
	expectSSE(t, resp)
	f := follow(resp)
	f.waitFrames(t, 4, 10*time.Second)
	f.mu.Lock()
	runID := f.frames[0].decodeEvent(t).RunID
	f.mu.Unlock()
	if r, body := b.getRun(t, ctx, "long", runID); r.Status != "RUNNING" {
		t.Fatalf("run as seen from B before the cancel: %s", body)
	}

	cancelled := time.Now()
	var cb struct {
		RunID  string `json:"run_id"`
		Status string `json:"status"`
	}
	decode(t, expectStatus(t, b.postForm(t, ctx, "/agents/long/runs/"+runID+"/cancel", nil), http.StatusOK), &cb)
	if cb.RunID != runID {
		t.Errorf("cancel answer from B: %+v", cb)
	}
	res := f.wait(t, 10*time.Second)
	took := time.Since(cancelled)
	t.Logf("A's stream ended %v after the cancel on B (%d frames)", took.Round(time.Millisecond), len(res.Frames))
	if res.Err != nil {
		t.Fatalf("A's stream broke: %v; frames %v", res.Err, types(res.Frames))
	}
	evs, errData := checkDense(t, res.Frames, 0)
	if errData != "" {
		t.Fatalf("A's stream ended with an error frame: %s", errData)
	}
	if last := evs[len(evs)-1]; last.Event != "RunCancelled" {
		t.Fatalf("A's stream ends with %s, want RunCancelled: %v", last.Event, types(res.Frames))
	}
	if took > 3*time.Second {
		t.Errorf("RunCancelled reached A's stream %v after the cancel on B", took)
	}
	for _, g := range []*replica{a, b} {
		r, body := g.getRun(t, ctx, "long", runID)
		if r.Status != "CANCELLED" || r.EventCount != int64(len(evs)) {
			t.Errorf("run as read on %s after A's stream ended with RunCancelled (%d events): %s", g.Name, len(evs), body)
		}
	}
	replay := resumeGET(t, b.gateway, "long", runID, "-1")
	if rev := events(t, replay, 0); len(rev) != len(evs) || rev[len(rev)-1].Event != "RunCancelled" {
		t.Errorf("replay on B: %v", types(replay))
	}
}

// TestReplicaContinue pauses a run on A (a tool needing confirmation) and
// continues it on B: B's stream starts with RunContinued right after
// RunPaused and completes; the whole stream, read on A, is dense from 0.
func TestReplicaContinue(t *testing.T) {
	t.Parallel()
	a, b := startPair(t, newBackends(t, ""))
	ctx := testCtx(t, 30*time.Second)

	paused := pauseRun(t, a.gateway)
	pe := paused[len(paused)-1].decodeEvent(t)
	if r, body := b.getRun(t, ctx, "approver", pe.RunID); r.Status != "PAUSED" || r.EventCount != pe.EventIndex+1 {
		t.Fatalf("paused run as read on B: %s", body)
	}
	resp := b.postForm(t, ctx, "/agents/approver/runs/"+pe.RunID+"/continue",
		url.Values{"tools": {decided(t, paused[len(paused)-1], true, "")}})
	expectSSE(t, resp)
	rest := readFrames(t, resp.Body)
	resp.Body.Close()
	evs := events(t, rest, pe.EventIndex+1)
	if len(evs) == 0 || evs[0].Event != "RunContinued" {
		t.Fatalf("B's stream should start with RunContinued at %d: %v", pe.EventIndex+1, types(rest))
	}
	final := evs[len(evs)-1]
	if final.Event != "RunCompleted" {
		t.Fatalf("B's stream should end with RunCompleted: %v", types(rest))
	}
	if want := "The calculator was approved and returned 42."; final.Content != want {
		t.Errorf("reply %q, want %q", final.Content, want)
	}
	ran := false
	for _, ev := range evs {
		if ev.Event == "ToolCallCompleted" && ev.Content == "42" {
			ran = true
		}
	}
	if !ran {
		t.Errorf("the confirmed tool did not run on B: %v", types(rest))
	}

	total := pe.EventIndex + 1 + int64(len(evs))
	all := resumeGET(t, a.gateway, "approver", pe.RunID, "")
	aevs := events(t, all, 0)
	if int64(len(aevs)) != total || aevs[pe.EventIndex].Event != "RunPaused" ||
		aevs[pe.EventIndex+1].Event != "RunContinued" || aevs[len(aevs)-1].Event != "RunCompleted" {
		t.Errorf("the whole stream read on A: %v; want %d events, RunPaused at %d then RunContinued, ending RunCompleted",
			types(all), total, pe.EventIndex)
	}
	for _, g := range []*replica{a, b} {
		if r, body := g.getRun(t, ctx, "approver", pe.RunID); r.Status != "COMPLETED" || r.EventCount != total || r.Content != final.Content {
			t.Errorf("run as read on %s: %s", g.Name, body)
		}
	}
}

// TestReplicaWorkerLost SIGKILLs A in the middle of a foreground run: B's
// reaper ends the run with RunError worker_lost within a bounded time, and
// a subscriber on B that resumed from the last index it saw gets that
// final frame, gapless.
func TestReplicaWorkerLost(t *testing.T) {
	t.Parallel()
	a, b := startPair(t, newBackends(t, ""))
	ctx := testCtx(t, 40*time.Second)

	resp := a.postForm(t, ctx, "/agents/long/runs", url.Values{"message": {"go on"}})
	expectSSE(t, resp)
	sr := newSSEReader(resp.Body)
	var head []frame
	for len(head) < 6 {
		f, err := sr.Next()
		if err != nil {
			t.Fatalf("after %d frames: %v", len(head), err)
		}
		head = append(head, f)
	}
	hevs := events(t, head, 0)
	runID, seen := hevs[0].RunID, hevs[len(hevs)-1].EventIndex

	a.kill(t)
	killed := time.Now()
	resp.Body.Close()

	// A subscriber on B from the last index seen, while the run still
	// looks RUNNING (its lease has not expired yet).
	sresp := b.do(t, ctx, http.MethodGet, "/agents/long/runs/"+runID+"/stream", nil, "",
		map[string]string{"Last-Event-ID": strconv.FormatInt(seen, 10)})
	expectSSE(t, sresp)
	sub := follow(sresp)

	r, body, _ := b.waitFinal(t, "long", runID, 10*time.Second)
	reaped := time.Since(killed)
	t.Logf("B reads %s %s %v after A was killed (lease_ttl 1s)", r.Status, r.ErrorType, reaped.Round(time.Millisecond))
	if r.Status != "ERROR" || r.ErrorType != "worker_lost" {
		t.Fatalf("run after its replica died, as read on B: %s", body)
	}

	res := sub.wait(t, 10*time.Second)
	t.Logf("B's subscriber (from %d) ended %v after the kill with %v", seen, time.Since(killed).Round(time.Millisecond), types(res.Frames))
	if res.Err != nil {
		t.Fatalf("B's subscriber stream broke: %v", res.Err)
	}
	evs, errData := checkDense(t, res.Frames, seen+1)
	if errData != "" {
		t.Fatalf("B's subscriber got an error frame instead of RunError: %s", errData)
	}
	if len(evs) == 0 {
		t.Fatalf("B's subscriber got no event after %d", seen)
	}
	last := evs[len(evs)-1]
	if last.Event != "RunError" || last.ErrorType != "worker_lost" {
		t.Fatalf("B's subscriber's last frame: %s", res.Frames[len(res.Frames)-1].Raw)
	}
	if r.EventCount != last.EventIndex+1 {
		t.Errorf("stored event_count %d, but the RunError is event %d", r.EventCount, last.EventIndex)
	}
	// The whole stream replays on B, ending with the one RunError.
	all := resumeGET(t, b.gateway, "long", runID, "-1")
	aevs := events(t, all, 0)
	n := 0
	for _, ev := range aevs {
		if terminal(ev.Event) {
			n++
		}
	}
	if int64(len(aevs)) != r.EventCount || n != 1 || aevs[len(aevs)-1].Event != "RunError" {
		t.Errorf("replay on B: %v", types(all))
	}
}

// TestReplicaBackgroundSurvivesKill SIGKILLs a replica that accepted, or
// is executing, a background run: the run must still complete (executed,
// or executed again, by the other replica through the durable queue) and
// read COMPLETED there.
func TestReplicaBackgroundSurvivesKill(t *testing.T) {
	t.Parallel()
	// A replica killed right after the 202 may have fetched the run's job
	// and not yet marked the run RUNNING (no lease then): River's own
	// rescue (queue.rescue_after, 3s here, and its rescuer's 30 s period)
	// is the fallback, so this bound is generous.
	const bound, hardBound = 60 * time.Second, 90 * time.Second
	queueEnv := []string{"AGENTGATE_QUEUE_RESCUE_AFTER=3s"}
	env := func(be *backends) []string { return append(be.Env(), queueEnv...) }

	// check reads the run's whole stream on b: dense from 0, one terminal
	// event, RunCompleted with the whole reply. It reports (and returns)
	// whether the stream shows a restart after the worker was lost.
	check := func(t *testing.T, b *replica, agent, runID, reply string) bool {
		t.Helper()
		all := resumeGET(t, b.gateway, agent, runID, "-1")
		evs := events(t, all, 0)
		ends := 0
		restarted := false
		for i, ev := range evs {
			if terminal(ev.Event) {
				ends++
			}
			if ev.Event == "CustomEvent" && strings.Contains(all[i].Data, "run_restarted") {
				restarted = true
			}
		}
		if ends != 1 || evs[len(evs)-1].Event != "RunCompleted" {
			t.Errorf("stream on B: want exactly one terminal event, RunCompleted, last: %v", types(all))
		}
		if got := evs[len(evs)-1].Content; got != reply {
			t.Errorf("RunCompleted content %q, want %q", got, reply)
		}
		t.Logf("stream on B: %d events, restart marker: %v", len(evs), restarted)
		return restarted
	}
	final := func(t *testing.T, b *replica, agent, runID string, killed time.Time) {
		t.Helper()
		r, body, _ := b.waitFinal(t, agent, runID, hardBound)
		took := time.Since(killed)
		t.Logf("run %s reached %s on B %v after A was killed", runID, r.Status, took.Round(time.Millisecond))
		if r.Status != "COMPLETED" {
			t.Fatalf("a background run whose replica died must complete elsewhere; as read on B %v after the kill: %s", took.Round(time.Millisecond), body)
		}
		if took > bound {
			t.Errorf("the background run took %v (more than %v) to complete after its replica died", took, bound)
		}
	}

	// Submitted to A with B running, A killed at once: whichever replica
	// picked the job (or none yet), B must see it through.
	t.Run("killed_after_accept", func(t *testing.T) {
		t.Parallel()
		be := newBackends(t, "")
		a := startReplica(t, "A", replicaConfig(), env(be)...)
		b := startReplica(t, "B", replicaConfig(), env(be)...)
		ctx := testCtx(t, 20*time.Second)
		var acc run
		decode(t, expectStatus(t, a.postForm(t, ctx, "/agents/story/runs", url.Values{
			"message": {"tell me a story"}, "stream": {"false"}, "background": {"true"}}), http.StatusAccepted), &acc)
		a.kill(t)
		killed := time.Now()
		t.Logf("202 from A: status %s; A killed", acc.Status)
		final(t, b, "story", acc.RunID, killed)
		check(t, b, "story", acc.RunID, words(storyChunks))
	})

	// Both replicas are up; the run executes on one of them (its lease
	// owner in the database says which), which is SIGKILLed. The other
	// executes the run again as soon as the lease says its executor is gone
	// (runs.lease_ttl, 1s here), not when River would rescue the job
	// (queue.rescue_after, left at its default minute here): the run
	// completes within lease_ttl + 5 s of the kill.
	t.Run("killed_while_executing", func(t *testing.T) {
		t.Parallel()
		const leaseTTL = time.Second // replicaConfig's runs.lease_ttl
		be := newBackends(t, "")
		a, b := startPair(t, be)
		ctx := testCtx(t, 40*time.Second)
		conn, err := pgx.Connect(ctx, pgtest.BaseURL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		owner := func(runID string) string {
			t.Helper()
			var o string
			if err := conn.QueryRow(ctx, "SELECT lease_owner FROM "+pgx.Identifier{be.Schema, "runs"}.Sanitize()+
				" WHERE run_id = $1", runID).Scan(&o); err != nil {
				t.Fatalf("lease owner of %s: %v", runID, err)
			}
			return o
		}
		started := func(g *replica, form url.Values) (string, *http.Response) {
			t.Helper()
			resp := g.postForm(t, ctx, "/agents/story/runs", form)
			expectSSE(t, resp)
			f := follow(resp)
			f.waitFrames(t, 2, 15*time.Second)
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.frames[0].decodeEvent(t).RunID, resp
		}
		// A's engine instance: the lease owner of a foreground run on A.
		fg, fresp := started(a, url.Values{"message": {"who"}, "stream": {"true"}})
		idA := owner(fg)
		fresp.Body.Close()

		runID, resp := started(a, url.Values{"message": {"tell me a story"}, "stream": {"true"}, "background": {"true"}})
		executor, survivor := b, a
		if owner(runID) == idA {
			executor, survivor = a, b
		}
		executor.kill(t)
		killed := time.Now()
		resp.Body.Close()
		r, body, _ := survivor.waitFinal(t, "story", runID, 30*time.Second)
		took := time.Since(killed)
		t.Logf("the background run, executing on %s when it was killed, completed on %s %v after the kill (lease_ttl %v; the run itself takes ~1.8 s)",
			executor.Name, survivor.Name, took.Round(time.Millisecond), leaseTTL)
		if r.Status != "COMPLETED" {
			t.Fatalf("a background run whose replica died must complete elsewhere: %s", body)
		}
		if took > leaseTTL+5*time.Second {
			t.Errorf("the background run completed %v after its replica died, want within lease_ttl + 5 s (%v)", took, leaseTTL+5*time.Second)
		}
		if !check(t, survivor, "story", runID, words(storyChunks)) {
			t.Errorf("the run was executing on %s when it died, yet its stream shows no restart (CustomEvent run_restarted)", executor.Name)
		}
	})
}

// TestRedisRestartMidStream kills and restarts a private redis-server (no
// persistence: it comes back empty) under a live stream. The gateway keeps
// running (/health 200; /ready 503 while Redis is down, 200 after); the
// subscriber gets either the whole gapless stream or an explicit `event:
// error` frame, never a silent gap; a resume afterwards is exact or
// refused; new runs (and cancels) work once Redis is back.
func TestRedisRestartMidStream(t *testing.T) {
	t.Parallel()
	rs := startRedisServer(t)
	be := newBackends(t, rs.URL())
	a := startReplica(t, "A", replicaConfig(), be.Env()...)
	ctx := testCtx(t, 60*time.Second)
	if _, took := a.waitReady(t, http.StatusOK, 5*time.Second); took > time.Second {
		t.Logf("/ready took %v to answer 200", took)
	}

	resp := a.postForm(t, ctx, "/agents/long/runs", url.Values{
		"message": {"go on"}, "stream": {"true"}, "background": {"true"}})
	expectSSE(t, resp)
	f := follow(resp)
	f.waitFrames(t, 5, 10*time.Second)
	f.mu.Lock()
	runID := f.frames[0].decodeEvent(t).RunID
	f.mu.Unlock()

	rs.stop()
	down := time.Now()
	expectStatus(t, a.get(t, ctx, "/health"), http.StatusOK)
	rd, took := a.waitReady(t, http.StatusServiceUnavailable, 10*time.Second)
	t.Logf("/ready 503 %v after Redis went down: %+v", took.Round(time.Millisecond), rd)
	if rd.Ready || rd.Database != "ok" || rd.EventLog == "ok" || rd.EventLog == "" {
		t.Errorf("/ready while Redis is down: %+v; want ready=false, database ok, event_log naming the failure", rd)
	}
	// Keep Redis down long enough for the executor's appends (go-redis
	// retries each for ~1.7 s) to fail, the final one included, so the
	// run's outcome does not depend on timing.
	time.Sleep(4*time.Second - time.Since(down))
	expectStatus(t, a.get(t, ctx, "/health"), http.StatusOK)
	rs.start()
	up := time.Now()
	_, took = a.waitReady(t, http.StatusOK, 15*time.Second)
	t.Logf("Redis down for %v; /ready 200 again %v after the restart", up.Sub(down).Round(time.Millisecond), took.Round(time.Millisecond))

	res := f.wait(t, 20*time.Second)
	if res.Err != nil {
		t.Errorf("the stream broke without a final frame (a silent end): %v; frames %v", res.Err, types(res.Frames))
	}
	evs, errData := checkDense(t, res.Frames, 0)
	lastSeen := int64(-1)
	if len(evs) > 0 {
		lastSeen = evs[len(evs)-1].EventIndex
	}
	switch {
	case errData != "":
		t.Logf("the subscriber got %d events (%v), then an explicit error frame: %s", len(evs), types(res.Frames), errData)
	case len(evs) > 0 && terminal(evs[len(evs)-1].Event):
		last := evs[len(evs)-1]
		t.Logf("the subscriber got the whole stream, %d events, ending %s %s", len(evs), last.Event, last.ErrorType)
		if last.Event == "RunCompleted" && len(evs) != longChunks+5 {
			t.Errorf("RunCompleted after %d events, want %d", len(evs), longChunks+5)
		}
	default:
		t.Errorf("the stream ended after %d events without a terminal event or an error frame (a silent gap): %v", len(evs), types(res.Frames))
	}

	// The run does not hang: it ends, and a resume from the subscriber's
	// last index is exact or refused.
	r, body, _ := a.waitFinal(t, "long", runID, 20*time.Second)
	t.Logf("the run ended %s %s (event_count %d): %s", r.Status, r.ErrorType, r.EventCount, tail(string(body), 300))
	if r.Status == "ERROR" && strings.Contains(r.Error, "event log") && r.ErrorType == "model_error" {
		t.Errorf("a run that failed because the event log was down is reported as error_type model_error (%q): "+
			"the model did nothing wrong", r.Error)
	}
	rresp := a.do(t, ctx, http.MethodGet, "/agents/long/runs/"+runID+"/stream", nil, "",
		map[string]string{"Last-Event-ID": strconv.FormatInt(lastSeen, 10)})
	switch rresp.StatusCode {
	case http.StatusOK:
		frames := readFrames(t, rresp.Body)
		rresp.Body.Close()
		revs, rerr := checkDense(t, frames, lastSeen+1)
		if rerr == "" && (len(revs) == 0 || !terminal(revs[len(revs)-1].Event)) {
			t.Errorf("resume after %d: neither the rest to a terminal event nor an error frame: %v", lastSeen, types(frames))
		}
		if rerr == "" && len(revs) > 0 && revs[len(revs)-1].EventIndex != r.EventCount-1 {
			t.Errorf("resume after %d ends at %d, but the stored run has %d events", lastSeen, revs[len(revs)-1].EventIndex, r.EventCount)
		}
		t.Logf("resume after %d: 200 %v", lastSeen, types(frames))
	case http.StatusNoContent:
		rresp.Body.Close()
		if r.EventCount-1 != lastSeen {
			t.Errorf("resume after %d: 204 (nothing left), but the stored run has %d events: a silent gap", lastSeen, r.EventCount)
		}
		if len(evs) == 0 || !terminal(evs[len(evs)-1].Event) {
			t.Errorf("resume after %d: 204 (nothing left), but the client's last event is %v, not the end of the run (stored %s, event_count %d): "+
				"the client never learns how the run ended", lastSeen, types(res.Frames[max(0, len(res.Frames)-2):]), r.Status, r.EventCount)
		}
	case http.StatusGone:
		body := expectDetail(t, rresp, http.StatusGone)
		if _, ok := body["first_available_index"]; !ok {
			t.Errorf("410 without first_available_index: %v", body)
		}
		t.Logf("resume after %d: 410 %v", lastSeen, body)
	default:
		b := readAll(t, rresp)
		t.Errorf("resume after %d (an index this subscriber was sent) once Redis is back, with the run %s in the store: "+
			"status %d %s; want 200 (the exact rest), 204 or 410 (refused, naming the first index available)",
			lastSeen, r.Status, rresp.StatusCode, b)
		// Diagnose: the same request a little later.
		time.Sleep(3 * time.Second)
		again := a.do(t, ctx, http.MethodGet, "/agents/long/runs/"+runID+"/stream", nil, "",
			map[string]string{"Last-Event-ID": strconv.FormatInt(lastSeen, 10)})
		t.Logf("the same resume 3s later: status %d %s", again.StatusCode, tail(string(readAll(t, again)), 600))
	}

	if !a.alive() {
		t.Fatalf("the gateway exited (%v)", a.err)
	}
	expectStatus(t, a.get(t, ctx, "/health"), http.StatusOK)

	// A new run works end to end once Redis is back.
	nresp := a.postForm(t, ctx, "/agents/story/runs", url.Values{"message": {"again"}, "stream": {"true"}})
	expectSSE(t, nresp)
	frames := readFrames(t, nresp.Body)
	nresp.Body.Close()
	if len(frames) == 0 {
		t.Fatal("a new run after the Redis restart streamed nothing")
	}
	checkRunTail(t, frames, 0, storyEvents, frames[0].decodeEvent(t).RunID)

	// And so does a cancel (the cancel pub/sub connection came back).
	cresp := a.postForm(t, ctx, "/agents/long/runs", url.Values{"message": {"go on"}})
	expectSSE(t, cresp)
	cf := follow(cresp)
	cf.waitFrames(t, 3, 10*time.Second)
	cf.mu.Lock()
	cid := cf.frames[0].decodeEvent(t).RunID
	cf.mu.Unlock()
	expectStatus(t, a.postForm(t, ctx, "/agents/long/runs/"+cid+"/cancel", nil), http.StatusOK)
	cres := cf.wait(t, 5*time.Second)
	if cevs, e := checkDense(t, cres.Frames, 0); e != "" || len(cevs) == 0 || cevs[len(cevs)-1].Event != "RunCancelled" {
		t.Errorf("a cancel after the Redis restart: %v (%v)", types(cres.Frames), cres.Err)
	}
}

// TestRedisLostLogResume restarts a private (non-persistent) Redis while a
// run is live but quiet (2 s between chunks): the log has lost the run's
// events and the run has not appended since. A client that resumes from
// the last index it was sent, on the executing replica (A) or another one
// (B), must get the exact rest (the writer goes on at the next index) or an
// explicit refusal (410 naming the first index available) — not 400 "beyond
// the stream", which tells the client its valid cursor is bogus (an
// EventSource stops reconnecting on it) while the run goes on.
func TestRedisLostLogResume(t *testing.T) {
	t.Parallel()
	rs := startRedisServer(t)
	be := newBackends(t, rs.URL())
	a, b := startPair(t, be)
	ctx := testCtx(t, 30*time.Second)

	resp := a.postForm(t, ctx, "/agents/tick/runs", url.Values{
		"message": {"tick"}, "stream": {"true"}, "background": {"true"}})
	expectSSE(t, resp)
	sr := newSSEReader(resp.Body)
	var head []frame
	for len(head) == 0 || head[len(head)-1].Event != "RunContent" {
		f, err := sr.Next()
		if err != nil {
			t.Fatalf("after %v: %v", types(head), err)
		}
		head = append(head, f)
	}
	resp.Body.Close()
	hevs := events(t, head, 0)
	runID, seen := hevs[0].RunID, hevs[len(hevs)-1].EventIndex

	rs.stop()
	rs.start() // empty: the run's events are gone; its next chunk is ~2 s away
	restarted := time.Now()

	var wg sync.WaitGroup
	for _, g := range []*replica{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := g.do(t, ctx, http.MethodGet, "/agents/tick/runs/"+runID+"/stream", nil, "",
				map[string]string{"Last-Event-ID": strconv.FormatInt(seen, 10)})
			took := time.Since(restarted)
			switch resp.StatusCode {
			case http.StatusOK:
				frames := readFrames(t, resp.Body)
				resp.Body.Close()
				evs, errData := checkDense(t, frames, seen+1)
				if errData == "" && (len(evs) == 0 || evs[len(evs)-1].Event != "RunCompleted") {
					t.Errorf("resume on %s after %d: neither the rest to RunCompleted nor an error frame: %v", g.Name, seen, types(frames))
				}
				t.Logf("resume on %s after %d (%v after the restart): 200 %v %s", g.Name, seen, took.Round(time.Millisecond), types(frames), errData)
			case http.StatusGone:
				body := expectDetail(t, resp, http.StatusGone)
				t.Logf("resume on %s after %d: 410 %v", g.Name, seen, body)
			default:
				body := readAll(t, resp)
				t.Errorf("resume on %s after %d, an index the client was sent, of a live run whose log Redis lost "+
					"(%v after the restart): status %d %s; want 200 (the exact rest) or 410 (refused, naming the first index available)",
					g.Name, seen, took.Round(time.Millisecond), resp.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	r, body, _ := a.waitFinal(t, "tick", runID, 15*time.Second)
	if r.Status != "COMPLETED" {
		t.Errorf("the run (quiet while Redis restarted) should complete: %s", body)
	}
}

// TestRedisPartitionEndsStreams cuts replica A, executing a run, off Redis
// (a TCP proxy drops its connections; Redis keeps its data, Postgres stays
// reachable, B stays connected to Redis). A's appends fail, so A stores the
// run as ERROR, but its final RunError cannot reach the log either. A
// subscriber following the run on B must not be left hanging (design rule
// 2): within a bounded time it gets a terminal event or an explicit error
// frame; and once the partition heals, a resume on B from the last index
// it got ends as well.
func TestRedisPartitionEndsStreams(t *testing.T) {
	t.Parallel()
	be := newBackends(t, "")
	ru, err := url.Parse(be.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, ru.Host)
	a := startReplica(t, "A", replicaConfig(), proxiedEnv(t, be, proxy, false)...)
	b := startReplica(t, "B", replicaConfig(), be.Env()...)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	// A foreground run executes on A.
	resp := a.postForm(t, ctx, "/agents/long/runs", url.Values{"message": {"go on"}})
	expectSSE(t, resp)
	fa := follow(resp)
	fa.waitFrames(t, 3, 10*time.Second)
	fa.mu.Lock()
	runID := fa.frames[0].decodeEvent(t).RunID
	fa.mu.Unlock()

	bresp := b.do(t, ctx, http.MethodGet, "/agents/long/runs/"+runID+"/stream", nil, "", nil)
	expectSSE(t, bresp)
	fb := follow(bresp)
	fb.waitFrames(t, 5, 10*time.Second)

	proxy.Partition()
	cut := time.Now()
	r, _, _ := b.waitFinal(t, "long", runID, 15*time.Second)
	t.Logf("%v after A lost Redis, B reads the run %s %s, event_count %d", time.Since(cut).Round(time.Millisecond), r.Status, r.ErrorType, r.EventCount)

	// ends waits up to d for f's stream to end and checks it ended
	// explicitly; it returns the last event index received.
	ends := func(name string, f *follower, first int64, d time.Duration) int64 {
		t.Helper()
		select {
		case <-f.done:
		case <-time.After(d):
			f.mu.Lock()
			last := types(f.frames[max(0, len(f.frames)-2):])
			n := len(f.frames)
			f.mu.Unlock()
			t.Errorf("%s is left hanging: %v after A lost Redis it has %d frames, the last %v, and no end, "+
				"while the store says the run is %s with %d events (its final event never reached the log)",
				name, time.Since(cut).Round(time.Millisecond), n, last, r.Status, r.EventCount)
			return -2
		}
		res := f.res
		evs, errData := checkDense(t, res.Frames, first)
		last := first - 1
		if len(evs) > 0 {
			last = evs[len(evs)-1].EventIndex
		}
		switch {
		case res.Err != nil:
			t.Errorf("%s broke without a final frame: %v; %v", name, res.Err, types(res.Frames))
		case errData != "":
			t.Logf("%s ended with an error frame after index %d: %s", name, last, errData)
		case len(evs) > 0 && terminal(evs[len(evs)-1].Event):
			t.Logf("%s ended with %s at %d", name, evs[len(evs)-1].Event, last)
		default:
			t.Errorf("%s ended silently after %v", name, types(res.Frames))
		}
		return last
	}
	ends("A's own stream", fa, 0, 10*time.Second)
	last := ends("B's subscriber", fb, 0, 10*time.Second)
	if last == -2 {
		bresp.Body.Close()
		<-fb.done
		fb.mu.Lock()
		if n := len(fb.frames); n > 0 {
			last = fb.frames[n-1].decodeEvent(t).EventIndex
		}
		fb.mu.Unlock()
	}

	proxy.Heal()
	if _, took := a.waitReady(t, http.StatusOK, 10*time.Second); took > 0 {
		t.Logf("A ready again %v after the heal", took.Round(time.Millisecond))
	}
	rresp := b.do(t, ctx, http.MethodGet, "/agents/long/runs/"+runID+"/stream", nil, "",
		map[string]string{"Last-Event-ID": strconv.FormatInt(last, 10)})
	switch rresp.StatusCode {
	case http.StatusOK:
		fr := follow(rresp)
		if ends("a resume on B after the heal", fr, last+1, 8*time.Second) == -2 {
			rresp.Body.Close()
			<-fr.done
		}
	case http.StatusGone:
		t.Logf("a resume on B after %d once healed: 410 %s", last, readAll(t, rresp))
	default:
		t.Errorf("a resume on B after %d once healed: status %d %s", last, rresp.StatusCode, readAll(t, rresp))
	}
}

// TestReadyReplicas: /ready on both replicas of a Postgres + Redis pair is
// 200 with every backend ok.
func TestReadyReplicas(t *testing.T) {
	t.Parallel()
	a, b := startPair(t, newBackends(t, ""))
	for _, g := range []*replica{a, b} {
		code, rd, body := g.ready(t)
		if code != http.StatusOK || !rd.Ready || rd.Database != "ok" || rd.EventLog != "ok" {
			t.Errorf("/ready on %s: %d %s", g.Name, code, body)
		}
	}
}

// TestUnreachableBackends starts a gateway whose Postgres, then whose
// Redis, is a closed port: it must exit non-zero quickly, naming the
// backend, without printing the URL's password.
func TestUnreachableBackends(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-pw"

	expectFailFast := func(t *testing.T, env []string, names ...string) {
		t.Helper()
		dir := t.TempDir()
		cfgPath := filepath.Join(dir, "agentgate.yaml")
		if err := os.WriteFile(cfgPath, []byte(replicaConfig()), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, binPath, "serve", "--addr", "127.0.0.1:0", "--config", cfgPath)
		cmd.Dir = dir
		cmd.Env = cleanEnv(append([]string{"AGENTGATE_LOG_LEVEL=info"}, env...)...)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		took := time.Since(start)
		t.Logf("exited after %v with %v:\n%s", took.Round(time.Millisecond), err, tail(string(out), 2000))
		if ctx.Err() != nil {
			t.Fatalf("the gateway was still running after 20s with an unreachable backend:\n%s", out)
		}
		if err == nil || cmd.ProcessState.ExitCode() == 0 {
			t.Fatalf("the gateway exited 0 with an unreachable backend:\n%s", out)
		}
		if took > 10*time.Second {
			t.Errorf("the gateway took %v to give up on an unreachable backend", took)
		}
		if listeningRE.Match(out) {
			t.Errorf("the gateway listened before giving up:\n%s", out)
		}
		for _, n := range names {
			if !strings.Contains(string(out), n) {
				t.Errorf("the message should name %q:\n%s", n, out)
			}
		}
		if strings.Contains(string(out), secret) {
			t.Errorf("the message shows the URL's password:\n%s", out)
		}
	}

	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		port := strconv.Itoa(freePort(t))
		expectFailFast(t, []string{
			"AGENTGATE_DATABASE_URL=postgres://root:" + secret + "@127.0.0.1:" + port + "/test?sslmode=disable",
			"AGENTGATE_REDIS_URL=" + testRedisURL(),
			"AGENTGATE_EVENT_LOG_PREFIX=agentgate-e2e-" + randHex(8) + ":",
		}, "state store", "127.0.0.1:"+port)
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		be := newBackends(t, "") // a reachable Postgres: only Redis is down
		port := strconv.Itoa(freePort(t))
		expectFailFast(t, []string{
			"AGENTGATE_DATABASE_URL=" + be.DatabaseURL,
			"AGENTGATE_REDIS_URL=redis://:" + secret + "@127.0.0.1:" + port + "/0",
			"AGENTGATE_EVENT_LOG_PREFIX=" + be.Prefix,
		}, "event log", "127.0.0.1:"+port)
	})
}
