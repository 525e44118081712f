package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core/media/mediatest"
)

// POST .../runs/{run_id}/continue takes files (and AgentOS's JSON media
// fields) as a run does: they join the run's input, the model is given
// them on the continued turn, and the stored run lists them.

const continueMediaConfig = `media:
  max_file_bytes: 100000
models:
  approval:
    provider: scripted
    model: approval-1
    script:
      - tool_calls:
          - name: calculator
            arguments: {expression: "6*7"}
        reply: "result {{tool_result}}; media {{media}}"
agents:
  - id: approver
    name: Approver
    model: approval
    tools:
      - name: calculator
        requires_confirmation: true
`

func TestContinueWithFiles(t *testing.T) {
	t.Parallel()
	g := startGateway(t, continueMediaConfig)
	ctx := testCtx(t, 30*time.Second)
	png := mediatest.PNG(3, 3)

	paused := pauseRun(t, g)
	pe := paused[len(paused)-1].decodeEvent(t)
	tools := decided(t, paused[len(paused)-1], true, "")
	body := runForm(t, map[string]string{"tools": tools, "stream": "false"}, mediaFile{name: "dot.png", contentType: "image/png", data: png})
	resp := g.do(t, ctx, http.MethodPost, "/agents/approver/runs/"+pe.RunID+"/continue", bytes.NewReader(body.data), body.ct, nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantPNG := fmt.Sprintf("image/png dot.png %d bytes sha256:%s", len(png), sha(png))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "result 42") || !strings.Contains(string(b), wantPNG) {
		t.Fatalf("continue with a file: %d %s", resp.StatusCode, b)
	}
	_, rb := g.getRun(t, ctx, "approver", pe.RunID)
	var r struct {
		SessionID string `json:"session_id"`
		Input     struct {
			Images []map[string]any `json:"images"`
		} `json:"input"`
	}
	decode(t, rb, &r)
	if len(r.Input.Images) != 1 || r.Input.Images[0]["id"] != sha(png) {
		t.Fatalf("stored run's input media: %s", rb)
	}
	// The session serves the medium given with the continue.
	got := expectStatus(t, g.get(t, ctx, "/sessions/"+r.SessionID+"/media/"+sha(png)), http.StatusOK)
	if !bytes.Equal(got, png) {
		t.Fatalf("session media: %d bytes", len(got))
	}

	// A bad JSON media field is a 400 naming it; the run stays paused.
	paused = pauseRun(t, g)
	pe = paused[len(paused)-1].decodeEvent(t)
	body = runForm(t, map[string]string{"tools": decided(t, paused[len(paused)-1], true, ""), "stream": "false", "images": "not json"})
	resp = g.do(t, ctx, http.MethodPost, "/agents/approver/runs/"+pe.RunID+"/continue", bytes.NewReader(body.data), body.ct, nil)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "images") {
		t.Fatalf("bad images field: %d %s", resp.StatusCode, b)
	}
	if r, b := g.getRun(t, ctx, "approver", pe.RunID); r.Status != "PAUSED" {
		t.Fatalf("the run should stay paused: %s", b)
	}
}
