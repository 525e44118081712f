package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// trimConfig keeps 5 events per run, and its agent streams 40 chunks with
// no delay: far more events than are kept, appended faster than a client
// reads them.
const trimConfig = `
event_log:
  max_events_per_run: 5
models:
  burst:
    provider: scripted
    model: burst-1
    chunks: 40
    script:
      - reply: "%s"
agents:
  - id: burst
    name: Burst
    model: burst
`

// TestOwnStreamSurvivesTrimming: a plain streaming POST (and a WebSocket
// start) gets its whole stream however much the log trims (every time, on
// the in-memory log and on Redis), while a resume from a trimmed cursor is
// still refused (410).
func TestOwnStreamSurvivesTrimming(t *testing.T) {
	cfg := fmt.Sprintf(trimConfig, words(40))
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) *gateway
	}{
		{"memlog", func(t *testing.T) *gateway { return startGateway(t, cfg) }},
		{"redis", func(t *testing.T) *gateway {
			return startReplica(t, "A", cfg, newBackends(t, "").Env()...).gateway
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.start(t)
			ctx := testCtx(t, 50*time.Second)
			var runID string
			for i := range 20 {
				resp := g.postForm(t, ctx, "/agents/burst/runs", url.Values{"message": {"go"}})
				expectSSE(t, resp)
				frames := readFrames(t, resp.Body)
				_ = resp.Body.Close()
				evs, errData := checkDense(t, frames, 0)
				if errData != "" || len(evs) == 0 || evs[len(evs)-1].Event != "RunCompleted" {
					t.Fatalf("try %d: the run's own stream was cut (error %s): %v", i, errData, types(frames))
				}
				if len(evs) < 40 {
					t.Fatalf("try %d: %d events, want the 40 chunks and more", i, len(evs))
				}
				runID = evs[0].RunID
			}
			// A WebSocket's start likewise gets its run's whole stream.
			w, _ := wsDial(t, g, nil)
			for i := range 5 {
				w.send(map[string]any{"action": "start", "id": i, "agent_id": "burst", "message": "go"})
				ack := w.expect("ack")
				if evs := w.untilEnd(ack.RunID, 0); evs[len(evs)-1].Event != "RunCompleted" || len(evs) < 40 {
					t.Fatalf("WebSocket try %d: %d events ending %s", i, len(evs), evs[len(evs)-1].Event)
				}
			}
			// Resume from the start of a trimmed run: refused, naming the
			// first index kept.
			body := expectDetail(t, g.get(t, ctx, "/agents/burst/runs/"+runID+"/stream?last_event_index=0"), http.StatusGone)
			if _, ok := body["first_available_index"]; !ok {
				t.Errorf("410 without first_available_index: %v", body)
			}
		})
	}
}
