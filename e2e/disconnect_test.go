package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// graceConfig is longConfig (a 4 s run, 200 ms heartbeats) with a disconnect
// grace of 1 s.
var graceConfig = longConfig + `
runs:
  disconnect_grace: 1s
`

// dropAfter starts a streaming run of agent on g with form, reads n frames,
// drops the connection and returns the run id, the frames read and when it
// dropped.
func dropAfter(t *testing.T, g *gateway, agent string, form url.Values, n int) (string, []frame, time.Time) {
	t.Helper()
	resp := g.postMultipart(t, testCtx(t, 20*time.Second), "/agents/"+agent+"/runs", form)
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
	_ = resp.Body.Close()
	return frames[0].decodeEvent(t).RunID, frames, time.Now()
}

// TestDisconnectGrace: a foreground run whose client drops goes on for
// runs.disconnect_grace; a client back within it with Last-Event-ID gets
// exactly the rest and the run completes; a run nobody comes back for is
// cancelled after the grace; on_disconnect=cancel cancels at once and
// on_disconnect=continue never.
func TestDisconnectGrace(t *testing.T) {
	t.Parallel()
	g := startGateway(t, graceConfig)
	const grace = time.Second

	t.Run("resumed_within_grace", func(t *testing.T) {
		t.Parallel()
		runID, frames, _ := dropAfter(t, g, "long", url.Values{"message": {"go on"}}, 4)
		first := events(t, frames, 0)
		rest := resumeGET(t, g, "long", runID, "3")
		evs := events(t, rest, 4)
		if last := evs[len(evs)-1]; last.Event != "RunCompleted" {
			t.Fatalf("the resumed run ended %s: %v", last.Event, types(rest))
		}
		// Exact: what the client saw before and after the drop is the
		// whole stream, as a replay from the start gives it.
		whole := resumeGET(t, g, "long", runID, "-1")
		if got, want := len(frames)+len(rest), len(whole); got != want {
			t.Fatalf("%d frames before and after the drop, the whole stream has %d", got, want)
		}
		for i, f := range append(frames, rest...) {
			if f.Raw != whole[i].Raw {
				t.Fatalf("frame %d differs from the replay: %q vs %q", i, f.Raw, whole[i].Raw)
			}
		}
		var content strings.Builder
		for _, ev := range append(first, evs...) {
			if ev.Event == "RunContent" {
				content.WriteString(ev.Content)
			}
		}
		if content.String() != words(200) {
			t.Errorf("the content streamed across the drop is not the reply")
		}
		if r, _ := g.getRun(t, testCtx(t, 5*time.Second), "long", runID); r.Status != "COMPLETED" {
			t.Errorf("run is %s, want COMPLETED", r.Status)
		}
	})

	t.Run("not_resumed", func(t *testing.T) {
		t.Parallel()
		runID, _, dropped := dropAfter(t, g, "long", url.Values{"message": {"go on"}}, 4)
		g.waitStatus(t, "long", runID, "CANCELLED")
		if took := time.Since(dropped); took < grace {
			t.Errorf("cancelled %v after the drop, before the grace of %v", took, grace)
		}
		frames := resumeGET(t, g, "long", runID, "-1")
		evs := events(t, frames, 0)
		if last := evs[len(evs)-1]; last.Event != "RunCancelled" {
			t.Errorf("the dropped run ended %s", last.Event)
		}
	})

	t.Run("on_disconnect_cancel", func(t *testing.T) {
		t.Parallel()
		runID, _, dropped := dropAfter(t, g, "long", url.Values{"message": {"go on"}, "on_disconnect": {"cancel"}}, 4)
		g.waitStatus(t, "long", runID, "CANCELLED")
		if took := time.Since(dropped); took >= grace {
			t.Errorf("on_disconnect=cancel: cancelled %v after the drop, not at once", took)
		}
	})

	t.Run("on_disconnect_continue", func(t *testing.T) {
		t.Parallel()
		runID, _, _ := dropAfter(t, g, "long", url.Values{"message": {"go on"}, "on_disconnect": {"continue"}}, 4)
		g.waitStatus(t, "long", runID, "COMPLETED")
	})

	t.Run("bad_mode", func(t *testing.T) {
		t.Parallel()
		body := expectDetail(t, g.postForm(t, testCtx(t, 5*time.Second), "/agents/long/runs",
			url.Values{"message": {"go on"}, "on_disconnect": {"later"}}), http.StatusBadRequest)
		if d := body["detail"].(string); !strings.Contains(d, "on_disconnect") {
			t.Errorf("detail %q does not name on_disconnect", d)
		}
	})
}

// TestDisconnectGraceReplicas: a run whose client dropped on replica A is
// followed again on replica B within the grace: A learns of the follower
// (through Redis) and lets the run complete.
func TestDisconnectGraceReplicas(t *testing.T) {
	b := newBackends(t, "")
	env := append(b.Env(), "AGENTGATE_RUNS_DISCONNECT_GRACE=1s")
	a := startReplica(t, "A", replicaConfig(), env...)
	bb := startReplica(t, "B", replicaConfig(), env...)
	// The long agent takes about 5 s, well over the grace.
	runID, frames, _ := dropAfter(t, a.gateway, "long", url.Values{"message": {"go on"}}, 4)
	events(t, frames, 0)
	rest := resumeGET(t, bb.gateway, "long", runID, "3")
	evs := events(t, rest, 4)
	if last := evs[len(evs)-1]; last.Event != "RunCompleted" {
		t.Fatalf("the run resumed on B ended %s: %v", last.Event, types(rest[max(0, len(rest)-3):]))
	}
	if r, _, _ := a.waitFinal(t, "long", runID, 10*time.Second); r.Status != "COMPLETED" {
		t.Errorf("run is %s, want COMPLETED", r.Status)
	}
}
