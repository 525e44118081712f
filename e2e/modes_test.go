package e2e

import (
	"github.com/agentgate/agentgate/internal/testutil"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// modesConfig is deterministic: a scripted model without delays whose reply
// to a question about the time calls current_time first.
const modesConfig = `
name: e2e-modes
models:
  clock:
    provider: scripted
    model: clock-1
    chunks: 4
    script:
      - match: time
        tool_calls:
          - name: current_time
        reply: "I checked the clock for you: it is {{tool_result}} right now."
      - reply: "You said: {{input}}"
agents:
  - id: assistant
    name: Assistant
    description: Tells the time.
    model: clock
    instructions: Be brief.
    tools: [current_time, calculator]
`

const modesMessage = "What time is it?"

// modesFrames are the event types every mode's run produces, in order.
var modesFrames = []string{
	"RunStarted", "ModelRequestStarted", "ModelRequestCompleted", "ToolCallStarted", "ToolCallCompleted",
	"ModelRequestStarted", "RunContent", "RunContent", "RunContent", "RunContent",
	"ModelRequestCompleted", "RunContentCompleted", "RunCompleted",
}

// TestRunModes runs the same agent run in each of the four modes against
// the real binary and compares the exact bodies and SSE frames (normalised)
// with golden files.
func TestRunModes(t *testing.T) {
	t.Parallel()
	g := startGateway(t, modesConfig)

	// checkStream checks a whole SSE body and returns it normalised.
	checkStream := func(t *testing.T, resp *http.Response) (string, []event) {
		t.Helper()
		expectSSE(t, resp)
		defer resp.Body.Close()
		frames := readFrames(t, resp.Body)
		evs := events(t, frames, 0)
		var got []string
		var raw strings.Builder
		for i, f := range frames {
			got = append(got, f.Event)
			raw.WriteString(f.Raw)
			if evs[i].RunID != evs[0].RunID || evs[i].SessionID != evs[0].SessionID || evs[i].RunID == "" {
				t.Errorf("frame %d: run_id/session_id %s/%s differ from the first frame's", i, evs[i].RunID, evs[i].SessionID)
			}
		}
		if strings.Join(got, ",") != strings.Join(modesFrames, ",") {
			t.Fatalf("event types:\n got  %v\n want %v", got, modesFrames)
		}
		last := evs[len(evs)-1]
		if !strings.Contains(last.Content, "I checked the clock for you: it is ") {
			t.Errorf("RunCompleted content %q", last.Content)
		}
		return normalize([]byte(raw.String())), evs
	}

	var foreground, detached string
	t.Run("stream", func(t *testing.T) {
		ctx := testCtx(t, 20*time.Second)
		// multipart, stream defaulting to true
		resp := g.postMultipart(t, ctx, "/agents/assistant/runs", url.Values{"message": {modesMessage}})
		got, evs := checkStream(t, resp)
		golden(t, "modes_stream", got)
		foreground = got
		r, b := g.getRun(t, ctx, "assistant", evs[0].RunID)
		if r.Status != "COMPLETED" || r.Content != evs[len(evs)-1].Content {
			t.Errorf("stored run after the stream: %s", b)
		}
	})

	t.Run("background_stream", func(t *testing.T) {
		ctx := testCtx(t, 20*time.Second)
		resp := g.postForm(t, ctx, "/agents/assistant/runs", url.Values{
			"message": {modesMessage}, "stream": {"true"}, "background": {"true"}})
		got, evs := checkStream(t, resp)
		golden(t, "modes_background_stream", got)
		detached = got
		r, b := g.getRun(t, ctx, "assistant", evs[0].RunID)
		if r.Status != "COMPLETED" || !r.Background {
			t.Errorf("stored run after the stream: %s", b)
		}
	})

	t.Run("blocking", func(t *testing.T) {
		ctx := testCtx(t, 20*time.Second)
		resp := g.postForm(t, ctx, "/agents/assistant/runs", url.Values{"message": {modesMessage}, "stream": {"false"}})
		b := expectStatus(t, resp, http.StatusOK)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q", ct)
		}
		var r run
		decode(t, b, &r)
		if r.Status != "COMPLETED" || !strings.HasPrefix(r.Content, "I checked the clock for you: it is ") {
			t.Fatalf("blocking answer: %s", b)
		}
		golden(t, "modes_blocking", normalizeJSON(t, b))
		// The answer is the stored run.
		_, stored := g.getRun(t, ctx, "assistant", r.RunID)
		if normalizeJSON(t, stored) != normalizeJSON(t, b) {
			t.Errorf("GET differs from the blocking answer:\n%s", testutil.LineDiff(normalizeJSON(t, b), normalizeJSON(t, stored)))
		}
	})

	t.Run("background", func(t *testing.T) {
		ctx := testCtx(t, 20*time.Second)
		resp := g.postMultipart(t, ctx, "/agents/assistant/runs", url.Values{
			"message": {modesMessage}, "stream": {"false"}, "background": {"true"}})
		b := expectStatus(t, resp, http.StatusAccepted)
		var acc struct {
			RunID     string `json:"run_id"`
			SessionID string `json:"session_id"`
			Status    string `json:"status"`
		}
		decode(t, b, &acc)
		if acc.RunID == "" || acc.SessionID == "" {
			t.Fatalf("202 body: %s", b)
		}
		// The status is the run's at acceptance: PENDING, or RUNNING when
		// the engine starts it at once; either is fine.
		if acc.Status != "PENDING" && acc.Status != "RUNNING" {
			t.Errorf("202 status %q, want PENDING or RUNNING", acc.Status)
		}
		golden(t, "modes_background_accepted", strings.Replace(normalizeJSON(t, b), `"`+acc.Status+`"`, `"<PENDING_OR_RUNNING>"`, 1))
		r, final := g.waitStatus(t, "assistant", acc.RunID, "COMPLETED")
		if r.SessionID != acc.SessionID || !r.Background {
			t.Errorf("polled run: %s", final)
		}
		golden(t, "modes_background_run", normalizeJSON(t, final))

		// The run is listed in its session.
		lb := expectStatus(t, g.get(t, ctx, "/agents/assistant/runs?session_id="+acc.SessionID), http.StatusOK)
		var list []run
		decode(t, lb, &list)
		if len(list) != 1 || list[0].RunID != acc.RunID {
			t.Errorf("runs of the session: %s", lb)
		}
	})

	// Both streaming modes produce the same frames.
	if foreground != "" && detached != "" && foreground != detached {
		t.Errorf("foreground and background streams differ:\n%s", testutil.LineDiff(foreground, detached))
	}
}
