package e2e

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core/media/mediatest"
	"github.com/agentgate/agentgate/internal/mcptestserver"
)

// Tools returning media: an MCP server's tool answers an image, a WAV and
// a CSV resource; the ToolCallCompleted event lists them, the run's output
// lists them as AgentOS's RunOutput does (images, audio, files), and the
// session's media route serves the stored bytes.

const toolMediaConfig = `
models:
  m:
    provider: scripted
    model: chart-1
    script:
      - tool_calls: [{name: mt_chart}]
        reply: "drawn: {{tool_result}}"
mcp_servers:
  mt:
    command: %s
    call_timeout: 20s
agents:
  - id: chart
    model: m
    tools: [{mcp_server: mt}]
`

// toolMediaGateway starts the gateway with the chart agent.
func toolMediaGateway(t *testing.T) *gateway {
	t.Helper()
	return startGateway(t, fmt.Sprintf(toolMediaConfig, mcpTestServer(t)))
}

// producedMedia is the run output's media lists.
type producedMedia struct {
	SessionID string           `json:"session_id"`
	Status    string           `json:"status"`
	Content   string           `json:"content"`
	Images    []map[string]any `json:"images"`
	Audio     []map[string]any `json:"audio"`
	Files     []map[string]any `json:"files"`
	Tools     []struct {
		ToolName string           `json:"tool_name"`
		Media    []map[string]any `json:"media"`
	} `json:"tools"`
}

// checkChartMedia checks the chart tool's three media and returns the
// image's URL.
func checkChartMedia(t *testing.T, what string, p producedMedia) string {
	t.Helper()
	png := mediatest.PNG(4, 3)
	if len(p.Images) != 1 || len(p.Audio) != 1 || len(p.Files) != 1 {
		t.Fatalf("%s: media %d images, %d audio, %d files; want 1 each: %+v", what, len(p.Images), len(p.Audio), len(p.Files), p)
	}
	img, wav, csv := p.Images[0], p.Audio[0], p.Files[0]
	if img["id"] != sha(png) || img["mime_type"] != "image/png" || img["width"] != 4.0 || img["height"] != 3.0 ||
		wav["id"] != sha(mcptestserver.ChartWAV) || wav["mime_type"] != "audio/wav" ||
		csv["id"] != sha([]byte(mcptestserver.ChartCSV)) || csv["mime_type"] != "text/csv" || csv["name"] != "points.csv" {
		t.Fatalf("%s: media %+v", what, p)
	}
	if img["url"] != "/sessions/"+p.SessionID+"/media/"+sha(png) {
		t.Fatalf("%s: image url %v", what, img["url"])
	}
	return img["url"].(string)
}

func TestToolMediaREST(t *testing.T) {
	t.Parallel()
	g := toolMediaGateway(t)

	// Streamed: ToolCallCompleted carries them.
	ctx := testCtx(t, 30*time.Second)
	resp := g.postForm(t, ctx, "/agents/chart/runs", url.Values{"message": {"draw"}, "stream": {"true"}})
	expectSSE(t, resp)
	sr := newSSEReader(resp.Body)
	var completed *producedMedia
	for {
		f, err := sr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.Event == "ToolCallCompleted" {
			var p producedMedia
			decode(t, []byte(f.Data), &p)
			completed = &p
		}
	}
	resp.Body.Close()
	if completed == nil {
		t.Fatal("no ToolCallCompleted")
	}
	checkChartMedia(t, "ToolCallCompleted", *completed)

	// Blocking: the run output lists them, and the tool execution too.
	var p producedMedia
	decode(t, want(t, g, "", http.MethodPost, "/agents/chart/runs", formBody(url.Values{"message": {"draw"}, "stream": {"false"}}), http.StatusOK), &p)
	if p.Status != "COMPLETED" || !bytes.Contains([]byte(p.Content), []byte("[image image/png")) {
		t.Fatalf("run: %+v", p)
	}
	imgURL := checkChartMedia(t, "run output", p)
	if len(p.Tools) != 1 || len(p.Tools[0].Media) != 3 {
		t.Fatalf("tool execution media: %+v", p.Tools)
	}
	// Stored: the session's run lists them and the route serves them.
	var stored []producedMedia
	decode(t, want(t, g, "", http.MethodGet, "/sessions/"+p.SessionID+"/runs", nil, http.StatusOK), &stored)
	if len(stored) != 1 {
		t.Fatalf("session runs: %+v", stored)
	}
	stored[0].SessionID = p.SessionID
	checkChartMedia(t, "stored run", stored[0])
	resp = g.get(t, testCtx(t, 10*time.Second), imgURL)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(b, mediatest.PNG(4, 3)) || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET %s: %d %s", imgURL, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// TestToolMediaMCPNodeSDK: the MCP TypeScript SDK calls the chart agent
// through /mcp; the tool result carries the run's image, audio and CSV as
// image, audio and embedded-resource content blocks with their bytes.
func TestToolMediaMCPNodeSDK(t *testing.T) {
	t.Parallel()
	g := toolMediaGateway(t)
	last := runNode(t, "mcp_media.mjs", "AGENTGATE_URL="+g.URL)
	var out struct {
		Status    string `json:"status"`
		SessionID string `json:"session_id"`
		Blocks    []struct {
			Type, MimeType, Data, URI, Text string
		} `json:"blocks"`
	}
	decode(t, []byte(last), &out)
	t.Logf("MCP TypeScript SDK: %d content blocks", len(out.Blocks))
	if out.Status != "COMPLETED" || len(out.Blocks) != 4 {
		t.Fatalf("result: %s", last)
	}
	dec := func(s string) []byte {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("base64: %v", err)
		}
		return b
	}
	text, img, wav, csv := out.Blocks[0], out.Blocks[1], out.Blocks[2], out.Blocks[3]
	if text.Type != "text" || !strings.HasPrefix(text.Text, "drawn: a chart of 3 points") {
		t.Errorf("text block: %+v", text)
	}
	if img.Type != "image" || img.MimeType != "image/png" || !bytes.Equal(dec(img.Data), mediatest.PNG(4, 3)) {
		t.Errorf("image block: %+v", img)
	}
	if wav.Type != "audio" || wav.MimeType != "audio/wav" || !bytes.Equal(dec(wav.Data), mcptestserver.ChartWAV) {
		t.Errorf("audio block: %+v", wav)
	}
	if csv.Type != "resource" || csv.MimeType != "text/csv" || string(dec(csv.Data)) != mcptestserver.ChartCSV ||
		csv.URI != "/sessions/"+out.SessionID+"/media/"+sha([]byte(mcptestserver.ChartCSV)) {
		t.Errorf("resource block: %+v", csv)
	}
}

// TestToolMediaA2ANodeSDK: the A2A JavaScript SDK sends to the chart agent
// in each protocol generation and binding; the task's "media" artifact
// carries the run's image, audio and CSV as file parts with their bytes,
// in a blocking send, a stream and a GetTask.
func TestToolMediaA2ANodeSDK(t *testing.T) {
	t.Parallel()
	g := toolMediaGateway(t)
	type part struct {
		Case, MediaType, Filename, Data, URL string
	}
	want := []struct {
		mime, name string
		data       []byte
	}{{"image/png", "mt_chart-1", mediatest.PNG(4, 3)}, {"audio/wav", "mt_chart-2", mcptestserver.ChartWAV}, {"text/csv", "points.csv", []byte(mcptestserver.ChartCSV)}}
	for _, mode := range []string{"v1", "v1-rest", "v03"} {
		t.Run(mode, func(t *testing.T) {
			last := runNode(t, "a2a_media.mjs", "AGENTGATE_URL="+g.URL, "A2A_MODE="+mode)
			var out struct {
				Status            string
				Send, Stream, Get []part
			}
			decode(t, []byte(last), &out)
			if out.Status != "TASK_STATE_COMPLETED" {
				t.Fatalf("status: %s", last)
			}
			for what, ps := range map[string][]part{"send": out.Send, "stream": out.Stream, "get": out.Get} {
				if len(ps) != len(want) {
					t.Fatalf("%s: %d file parts, want %d: %+v", what, len(ps), len(want), ps)
				}
				for i, w := range want {
					p := ps[i]
					b, err := base64.StdEncoding.DecodeString(p.Data)
					if p.Case != "raw" || err != nil || !bytes.Equal(b, w.data) || p.MediaType != w.mime || p.Filename != w.name {
						t.Errorf("%s part %d: %+v (want %s %q, %d bytes)", what, i, p, w.mime, w.name, len(w.data))
					}
				}
			}
			t.Logf("@a2a-js/sdk %s: media artifact of %d file parts in send, stream and get", mode, len(out.Get))
		})
	}
}
