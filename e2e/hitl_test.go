package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

const hitlConfig = `
models:
  approval:
    provider: scripted
    model: approval-1
    chunks: 3
    script:
      - tool_calls:
          - name: calculator
            arguments: {expression: "6*7"}
        reply: "The calculator was approved and returned {{tool_result}}."
        rejected_reply: "The calculator call was rejected, so I did not run it. Note: {{note}}"
agents:
  - id: approver
    name: Approver
    model: approval
    tools:
      - name: calculator
        requires_confirmation: true
`

// pauseRun starts a streaming run of the approver and reads it until
// RunPaused, where the stream must end. It returns the frames.
func pauseRun(t *testing.T, g *gateway) []frame {
	t.Helper()
	ctx := testCtx(t, 20*time.Second)
	resp := g.postForm(t, ctx, "/agents/approver/runs", url.Values{"message": {"compute 6*7"}, "stream": {"true"}})
	expectSSE(t, resp)
	defer resp.Body.Close()
	frames := readFrames(t, resp.Body)
	evs := events(t, frames, 0)
	if len(evs) == 0 || evs[len(evs)-1].Event != "RunPaused" {
		t.Fatalf("the stream should end at RunPaused: %v", types(frames))
	}
	paused := evs[len(evs)-1]
	if len(paused.Tools) != 1 {
		t.Fatalf("RunPaused carries %d tools, want 1: %s", len(paused.Tools), frames[len(frames)-1].Data)
	}
	var tool struct {
		ToolCallID           string          `json:"tool_call_id"`
		ToolName             string          `json:"tool_name"`
		ToolArgs             json.RawMessage `json:"tool_args"`
		RequiresConfirmation bool            `json:"requires_confirmation"`
	}
	decode(t, paused.Tools[0], &tool)
	if tool.ToolCallID == "" || tool.ToolName != "calculator" || !tool.RequiresConfirmation || !strings.Contains(string(tool.ToolArgs), "6*7") {
		t.Fatalf("paused tool: %s", paused.Tools[0])
	}
	for _, f := range frames {
		if f.Event == "ToolCallStarted" || f.Event == "ToolCallCompleted" {
			t.Fatalf("the tool ran before it was confirmed: %v", types(frames))
		}
	}
	return frames
}

// decided returns the RunPaused event's tools with the decision set.
func decided(t *testing.T, paused frame, confirmed bool, note string) string {
	t.Helper()
	var ev struct {
		Tools []map[string]any `json:"tools"`
	}
	decode(t, []byte(paused.Data), &ev)
	for _, tool := range ev.Tools {
		tool["confirmed"] = confirmed
		if note != "" {
			tool["confirmation_note"] = note
		}
	}
	b, err := json.Marshal(ev.Tools)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHITL runs a tool that requires confirmation: the run pauses, and a
// separate request continues it (confirmed or rejected with a note) in the
// same event stream.
func TestHITL(t *testing.T) {
	t.Parallel()
	g := startGateway(t, hitlConfig)

	// continueRun pauses a run, checks it is PAUSED, continues it with the
	// decision in a separate request and returns the frames of the rest.
	continueRun := func(t *testing.T, confirmed bool, note string, multipart bool) (runID string, paused []frame, rest []event) {
		paused = pauseRun(t, g)
		pe := paused[len(paused)-1].decodeEvent(t)
		runID = pe.RunID
		ctx := testCtx(t, 20*time.Second)
		r, b := g.getRun(t, ctx, "approver", runID)
		if r.Status != "PAUSED" || r.EventCount != pe.EventIndex+1 {
			t.Fatalf("paused run: %s", b)
		}
		form := url.Values{"tools": {decided(t, paused[len(paused)-1], confirmed, note)}}
		var resp *http.Response
		if multipart {
			resp = g.postMultipart(t, ctx, "/agents/approver/runs/"+runID+"/continue", form)
		} else {
			resp = g.postForm(t, ctx, "/agents/approver/runs/"+runID+"/continue", form)
		}
		expectSSE(t, resp)
		defer resp.Body.Close()
		frames := readFrames(t, resp.Body)
		rest = events(t, frames, pe.EventIndex+1)
		if rest[0].Event != "RunContinued" || rest[0].RunID != runID {
			t.Fatalf("the continued stream should start with RunContinued at %d: %v", pe.EventIndex+1, types(frames))
		}
		if last := rest[len(rest)-1]; last.Event != "RunCompleted" {
			t.Fatalf("the continued stream should end with RunCompleted: %v", types(frames))
		}
		golden(t, "hitl_"+map[bool]string{true: "confirmed", false: "rejected"}[confirmed],
			normalize([]byte(joinRaw(paused)+"----- continue -----\n"+joinRaw(frames))))
		return runID, paused, rest
	}

	t.Run("confirmed", func(t *testing.T) {
		t.Parallel()
		runID, _, rest := continueRun(t, true, "", true)
		var seq []string
		for _, ev := range rest {
			seq = append(seq, ev.Event)
		}
		s := strings.Join(seq, ",")
		if !strings.HasPrefix(s, "RunContinued,ToolCallStarted,ToolCallCompleted,") {
			t.Errorf("continued events: %s", s)
		}
		var result string
		for _, ev := range rest {
			if ev.Event == "ToolCallCompleted" {
				result = ev.Content
			}
		}
		if result != "42" {
			t.Errorf("tool result %q, want 42", result)
		}
		final := rest[len(rest)-1]
		if want := "The calculator was approved and returned 42."; final.Content != want {
			t.Errorf("reply %q, want %q", final.Content, want)
		}
		r, b := g.getRun(t, testCtx(t, 5*time.Second), "approver", runID)
		if r.Status != "COMPLETED" || r.Content != final.Content {
			t.Errorf("stored run: %s", b)
		}

		// Continuing a run that is not paused: 409.
		ctx := testCtx(t, 10*time.Second)
		expectDetail(t, g.postForm(t, ctx, "/agents/approver/runs/"+runID+"/continue",
			url.Values{"tools": {`[{"tool_call_id":"x","confirmed":true}]`}}), http.StatusConflict)
	})

	t.Run("rejected", func(t *testing.T) {
		t.Parallel()
		_, _, rest := continueRun(t, false, "not today", false)
		for _, ev := range rest {
			if ev.Event == "ToolCallStarted" || ev.Event == "ToolCallCompleted" {
				t.Errorf("a rejected tool ran: %s", ev.Event)
			}
		}
		final := rest[len(rest)-1]
		if want := "The calculator call was rejected, so I did not run it. Note: not today"; final.Content != want {
			t.Errorf("reply %q, want %q", final.Content, want)
		}
	})

	t.Run("bad_requests", func(t *testing.T) {
		t.Parallel()
		paused := pauseRun(t, g)
		pe := paused[len(paused)-1].decodeEvent(t)
		ctx := testCtx(t, 10*time.Second)
		path := "/agents/approver/runs/" + pe.RunID + "/continue"
		for _, tools := range []string{`not json`, `{"tool_call_id":"x"}`, `[{"tool_call_id":`, ``} {
			expectDetail(t, g.postForm(t, ctx, path, url.Values{"tools": {tools}}), http.StatusBadRequest)
		}
		// A decision for a tool call that is not pending, or none at all.
		expectDetail(t, g.postForm(t, ctx, path, url.Values{"tools": {`[{"tool_call_id":"nope","confirmed":true}]`}}), http.StatusBadRequest)
		expectDetail(t, g.postForm(t, ctx, path, url.Values{"tools": {`[]`}}), http.StatusBadRequest)
		// Still paused after all that; continue of an unknown run is 404.
		if r, b := g.getRun(t, ctx, "approver", pe.RunID); r.Status != "PAUSED" {
			t.Errorf("after bad continues: %s", b)
		}
		expectDetail(t, g.postForm(t, ctx, "/agents/approver/runs/nope/continue", url.Values{"tools": {decided(t, paused[len(paused)-1], true, "")}}), http.StatusNotFound)

		// A paused run can be cancelled; then continuing it is a conflict.
		expectStatus(t, g.postForm(t, ctx, "/agents/approver/runs/"+pe.RunID+"/cancel", nil), http.StatusOK)
		g.waitStatus(t, "approver", pe.RunID, "CANCELLED")
		expectDetail(t, g.postForm(t, ctx, path, url.Values{"tools": {decided(t, paused[len(paused)-1], true, "")}}), http.StatusConflict)
		frames := resumeGET(t, g, "approver", pe.RunID, strconv.FormatInt(pe.EventIndex, 10))
		if evs := events(t, frames, pe.EventIndex+1); len(evs) != 1 || evs[0].Event != "RunCancelled" {
			t.Errorf("stream of a cancelled paused run after RunPaused: %v", types(frames))
		}
	})

	// A run that paused and then went on has one stream: replaying it from
	// before the pause gives every event up to the end, not just up to the
	// old RunPaused (which would tell the client the run is still paused).
	t.Run("replay_across_pause", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 20*time.Second)
		check := func(t *testing.T, runID string, total int64, end string) {
			t.Helper()
			for _, c := range []struct {
				name   string
				first  int64
				frames []frame
			}{
				{"GET stream from the start", 0, resumeGET(t, g, "approver", runID, "")},
				{"POST resume last_event_index=1", 2, resumePOST(t, g, "approver", runID, "1")},
			} {
				evs := events(t, c.frames, c.first)
				if n := len(evs); n == 0 || evs[n-1].Event != end || evs[n-1].EventIndex != total-1 {
					t.Errorf("%s of a %s run that paused on the way: got %v, want events up to %d:%s",
						c.name, end, types(c.frames), total-1, end)
				}
			}
		}
		t.Run("continued", func(t *testing.T) {
			paused := pauseRun(t, g)
			pe := paused[len(paused)-1].decodeEvent(t)
			// Continue in the background this time: 202, then poll.
			b := expectStatus(t, g.postForm(t, ctx, "/agents/approver/runs/"+pe.RunID+"/continue", url.Values{
				"tools": {decided(t, paused[len(paused)-1], true, "")}, "stream": {"false"}, "background": {"true"}}), http.StatusAccepted)
			var acc run
			decode(t, b, &acc)
			if acc.RunID != pe.RunID {
				t.Fatalf("202 body %s", b)
			}
			r, _ := g.waitStatus(t, "approver", pe.RunID, "COMPLETED")
			check(t, pe.RunID, r.EventCount, "RunCompleted")
		})
		t.Run("cancelled_while_paused", func(t *testing.T) {
			paused := pauseRun(t, g)
			pe := paused[len(paused)-1].decodeEvent(t)
			expectStatus(t, g.postForm(t, ctx, "/agents/approver/runs/"+pe.RunID+"/cancel", nil), http.StatusOK)
			r, _ := g.waitStatus(t, "approver", pe.RunID, "CANCELLED")
			check(t, pe.RunID, r.EventCount, "RunCancelled")
		})
	})
}

func joinRaw(frames []frame) string {
	var b strings.Builder
	for _, f := range frames {
		b.WriteString(f.Raw)
	}
	return b.String()
}
