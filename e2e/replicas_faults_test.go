package e2e

// Integrity under backend faults: two replicas reach Postgres, or Redis,
// through the test's TCP proxy, which cuts them off together (an outage of
// the backend) while foreground and background runs end. After recovery
// every run has exactly one ending event, the stored run equals it, no run
// was executed twice (a background run cut off from the event log is
// executed again, as after a crash, and completes), and a resume after the
// ending event answers at once.

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// faultRun is one run of a fault test, streamed from its start.
type faultRun struct {
	on *replica // where it was started
	id string
	bg bool
	f  *follower
}

// startFaultRuns starts n foreground and n background runs of agent, the
// kinds interleaved and spread over the replicas, each streamed from its
// start (a background run's stream does not cancel it when dropped), and
// returns once every one has sent RunStarted and a first chunk: all are
// executing.
func startFaultRuns(t *testing.T, ctx context.Context, reps []*replica, agent string, n int) []*faultRun {
	t.Helper()
	runs := make([]*faultRun, 0, 2*n)
	for i := range 2 * n {
		r := &faultRun{on: reps[(i/2)%len(reps)], bg: i%2 == 1}
		form := url.Values{"message": {"go"}, "stream": {"true"}}
		if r.bg {
			form.Set("background", "true")
		}
		resp := r.on.postForm(t, ctx, "/agents/"+agent+"/runs", form)
		expectSSE(t, resp)
		r.f = follow(resp)
		runs = append(runs, r)
	}
	for _, r := range runs {
		r.f.waitFrames(t, 2, 20*time.Second)
		r.f.mu.Lock()
		r.id = r.f.frames[0].decodeEvent(t).RunID
		r.f.mu.Unlock()
	}
	return runs
}

// endedWithin reports whether the run's last event before its ending one
// came between from and to: the run ended while the backend was down.
func (r *faultRun) endedWithin(from, to time.Time) bool {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	for i, fr := range r.f.frames {
		if terminal(fr.Event) {
			return i > 0 && r.f.at[i-1].After(from) && r.f.at[i-1].Before(to)
		}
	}
	return false
}

// storedStatus is the stored status an ending event announces.
var storedStatus = map[string]string{"RunCompleted": "COMPLETED", "RunError": "ERROR", "RunCancelled": "CANCELLED"}

// checkEndedOnce checks run r after recovery, read on g: it ended; its whole
// stream is dense with exactly one ending event, the last, which the stored
// run equals (status, content or error type, event count); it was executed
// once (one RunStarted, no run_restarted) unless restarts are allowed; a
// background run completed with the whole reply; and a resume after the
// ending event answers at once. It reports whether the run was restarted.
func checkEndedOnce(t *testing.T, g *replica, agent string, r *faultRun, reply string, allowRestart bool) bool {
	t.Helper()
	g.waitFinal(t, agent, r.id, 40*time.Second)
	// The ending event may reach the log a while after the store has the
	// end (it is appended once the end is durable, and retried while the
	// log is down); the stored count is exact once it has.
	var all []frame
	deadline := time.Now().Add(30 * time.Second)
	for {
		all = resumeGET(t, g.gateway, agent, r.id, "-1")
		if n := len(all); n > 0 && terminal(all[n-1].Event) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	evs, errData := checkDense(t, all, 0)
	if errData != "" || len(evs) == 0 {
		t.Errorf("run %s (background %v): the replay on %s has no ending event: %v %s", r.id, r.bg, g.Name, types(all), errData)
		return false
	}
	ends, starts, restarted := 0, 0, false
	for i, ev := range evs {
		switch {
		case terminal(ev.Event):
			ends++
		case ev.Event == "RunStarted":
			starts++
		case ev.Event == "CustomEvent" && strings.Contains(all[i].Data, "run_restarted"):
			restarted = true
		}
	}
	last := evs[len(evs)-1]
	// A replica answers an ended run from memory for a second after it
	// read it (tuning.final_cache_ttl): one read while the ending event was
	// pending may show the count it had then.
	ctx := testCtx(t, 20*time.Second)
	stored, body := g.getRun(t, ctx, agent, r.id)
	for settle := time.Now().Add(3 * time.Second); stored.EventCount != last.EventIndex+1 && time.Now().Before(settle); {
		time.Sleep(200 * time.Millisecond)
		stored, body = g.getRun(t, ctx, agent, r.id)
	}
	if ends != 1 || !terminal(last.Event) {
		t.Errorf("run %s (background %v): %d ending events, want exactly one, the last: %v", r.id, r.bg, ends, types(all))
	}
	if !allowRestart && (restarted || starts != 1) {
		t.Errorf("run %s (background %v) was executed more than once (%d RunStarted, restarted %v): %v", r.id, r.bg, starts, restarted, types(all))
	}
	if stored.Status != storedStatus[last.Event] || stored.EventCount != last.EventIndex+1 {
		t.Errorf("run %s (background %v): stored %s with %d events, but its stream ends with %s at %d: %s",
			r.id, r.bg, stored.Status, stored.EventCount, last.Event, last.EventIndex, body)
	}
	switch last.Event {
	case "RunCompleted":
		if stored.Content != last.Content || last.Content != reply {
			t.Errorf("run %s: stored content %q, ending event's %q, want %q", r.id, tail(stored.Content, 40), tail(last.Content, 40), tail(reply, 40))
		}
	case "RunError":
		if stored.ErrorType != last.ErrorType {
			t.Errorf("run %s: stored error_type %q, ending event's %q", r.id, stored.ErrorType, last.ErrorType)
		}
	}
	if r.bg && stored.Status != "COMPLETED" {
		t.Errorf("background run %s did not complete: %s", r.id, body)
	}
	// A resume after the ending event has nothing to wait for.
	start := time.Now()
	resp := g.do(t, ctx, http.MethodGet, "/agents/"+agent+"/runs/"+r.id+"/stream", nil, "",
		map[string]string{"Last-Event-ID": strconv.FormatInt(last.EventIndex, 10)})
	rest := readAll(t, resp)
	took := time.Since(start)
	if (resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK) || strings.Contains(string(rest), "event:") || took > 2*time.Second {
		t.Errorf("run %s: a resume after its ending event answered %d %q after %v, want nothing at once", r.id, resp.StatusCode, rest, took)
	}
	return restarted
}

// proxiedEnv is the environment of a replica on b that reaches Postgres
// (pg) or Redis (!pg) through proxy.
func proxiedEnv(t *testing.T, b *backends, proxy *tcpProxy, pg bool) []string {
	t.Helper()
	if !pg {
		ru, err := url.Parse(b.RedisURL)
		if err != nil {
			t.Fatal(err)
		}
		ru.Host = proxy.Addr()
		return []string{"AGENTGATE_DATABASE_URL=" + b.DatabaseURL, "AGENTGATE_REDIS_URL=" + ru.String(), "AGENTGATE_EVENT_LOG_PREFIX=" + b.Prefix}
	}
	pu, err := url.Parse(b.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	pu.Host = proxy.Addr()
	q := pu.Query()
	q.Set("connect_timeout", "2")
	pu.RawQuery = q.Encode()
	return []string{"AGENTGATE_DATABASE_URL=" + pu.String(), "AGENTGATE_REDIS_URL=" + b.RedisURL, "AGENTGATE_EVENT_LOG_PREFIX=" + b.Prefix}
}

// proxiedPair starts replicas A and B that both reach Postgres (pg) or
// Redis through one proxy, and returns them with the proxy.
func proxiedPair(t *testing.T, pg bool) (*replica, *replica, *tcpProxy) {
	t.Helper()
	b := newBackends(t, "")
	target := ""
	if pg {
		pu, err := url.Parse(b.DatabaseURL)
		if err != nil {
			t.Fatal(err)
		}
		target = pu.Host
	} else {
		ru, err := url.Parse(b.RedisURL)
		if err != nil {
			t.Fatal(err)
		}
		target = ru.Host
	}
	proxy := startProxy(t, target)
	env := proxiedEnv(t, b, proxy, pg)
	a := startReplica(t, "A", replicaConfig(), env...)
	bb := startReplica(t, "B", replicaConfig(), env...)
	return a, bb, proxy
}

// TestPostgresOutageRunsEndOnce: runs (foreground and background, on both
// replicas) end while Postgres is unreachable from both, for 2 s and for
// 20 s. Each run's end is stored once Postgres is back and only then
// announced; no reaper ends a run a second time, no background run is
// executed again.
func TestPostgresOutageRunsEndOnce(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		outage time.Duration
		agent  string
		reply  string
		// cut is how many events the first run has sent when Postgres is
		// cut: near its end for a short outage, so that every run (the
		// others started after it) ends within the outage however slowly
		// they were all started.
		cut int
	}{
		{"2s", 2 * time.Second, "story", words(storyChunks), storyEvents - 12},
		{"20s", 20 * time.Second, "long", words(longChunks), 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a, b, proxy := proxiedPair(t, true)
			ctx := testCtx(t, 90*time.Second)
			const n = 6
			runs := startFaultRuns(t, ctx, []*replica{a, b}, c.agent, n)
			runs[0].f.waitFrames(t, c.cut, 20*time.Second)

			proxy.Partition()
			down := time.Now()
			time.Sleep(c.outage)
			proxy.Heal()
			healed := time.Now()
			t.Logf("Postgres unreachable for %v", healed.Sub(down).Round(time.Millisecond))

			insideFG, insideBG := 0, 0
			for _, r := range runs {
				res := r.f.wait(t, 40*time.Second)
				if res.Err != nil {
					t.Errorf("run %s (background %v): its stream broke: %v %v", r.id, r.bg, res.Err, types(res.Frames))
				}
				if r.endedWithin(down, healed) {
					if r.bg {
						insideBG++
					} else {
						insideFG++
					}
				}
			}
			t.Logf("runs that ended inside the outage: %d of %d foreground, %d of %d background", insideFG, n, insideBG, n)
			if insideFG == 0 || insideBG == 0 {
				t.Errorf("the test needs runs of each kind to end inside the outage: %d foreground, %d background", insideFG, insideBG)
			}
			// Past the replicas' grace after an outage, when a reaper could
			// have stepped in.
			time.Sleep(3 * time.Second)
			for _, r := range runs {
				other := a
				if r.on == a {
					other = b
				}
				checkEndedOnce(t, other, c.agent, r, c.reply, false)
			}
		})
	}
}

// TestRedisOutageRunsEndOnce: runs execute while Redis is unreachable from
// both replicas for 10 s. Foreground requests are refused at once (503)
// during it; a background run accepted during it, and every background
// run it interrupted, completes after it (interrupted ones restarted, as
// after a crash); every run ends exactly once, as stored.
func TestRedisOutageRunsEndOnce(t *testing.T) {
	t.Parallel()
	a, b, proxy := proxiedPair(t, false)
	ctx := testCtx(t, 120*time.Second)
	const n = 6
	runs := startFaultRuns(t, ctx, []*replica{a, b}, "long", n)

	proxy.Partition()
	down := time.Now()
	// Once the replicas' appends failed, a foreground request fails fast.
	for _, g := range []*replica{a, b} {
		var code int
		var took time.Duration
		deadline := time.Now().Add(8 * time.Second)
		for {
			start := time.Now()
			resp := g.postForm(t, ctx, "/agents/story/runs", url.Values{"message": {"x"}, "stream": {"false"}})
			body := readAll(t, resp)
			code, took = resp.StatusCode, time.Since(start)
			if code == http.StatusServiceUnavailable || time.Now().After(deadline) {
				break
			}
			t.Logf("a blocking run on %s %v into the outage: %d after %v %s", g.Name, time.Since(down).Round(time.Millisecond), code, took.Round(time.Millisecond), tail(string(body), 200))
			time.Sleep(500 * time.Millisecond)
		}
		t.Logf("a blocking run on %s %v into the outage: %d after %v", g.Name, time.Since(down).Round(time.Millisecond), code, took.Round(time.Millisecond))
		if code != http.StatusServiceUnavailable || took > 1500*time.Millisecond {
			t.Errorf("a foreground run on %s during the Redis outage: %d after %v, want 503 within about a second", g.Name, code, took)
		}
	}
	// A background run is accepted (the queue is in Postgres) and runs
	// once the log is back.
	var acc run
	decode(t, expectStatus(t, b.postForm(t, ctx, "/agents/story/runs", url.Values{
		"message": {"later"}, "stream": {"false"}, "background": {"true"}}), http.StatusAccepted), &acc)
	time.Sleep(10*time.Second - time.Since(down))
	proxy.Heal()
	t.Logf("Redis unreachable for %v", time.Since(down).Round(time.Millisecond))

	restarted := 0
	for _, r := range runs {
		other := a
		if r.on == a {
			other = b
		}
		if checkEndedOnce(t, other, "long", r, words(longChunks), r.bg) {
			restarted++
		}
	}
	t.Logf("%d of %d background runs were executed again after the outage", restarted, n)
	if restarted != n {
		t.Errorf("%d of %d interrupted background runs show run_restarted, want all", restarted, n)
	}
	checkEndedOnce(t, a, "story", &faultRun{on: b, id: acc.RunID, bg: true}, words(storyChunks), true)
}
