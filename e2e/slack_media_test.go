package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentgate/agentgate/adapters/slack/fakeslack"
	"github.com/agentgate/agentgate/core/media/mediatest"
	"github.com/agentgate/agentgate/internal/mcptestserver"
)

// Slack file shares through the binary: a PNG shared in a mention is
// downloaded from the fake Slack with the bot token and reaches the model
// (the scripted model describes the bytes it got), the stored run lists it
// and the session's media route serves it; the media an MCP tool returns
// are uploaded into the thread with the external upload flow.

const slackMediaConfig = `
models:
  eye:
    provider: scripted
    model: eye-1
    script:
      - reply: "Slack file: {{media}}"
  chart:
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
  - id: assistant
    model: eye
  - id: chart
    model: chart
    tools: [{mcp_server: mt}]
slack:
  apps:
    - name: charts
      agent: chart
`

func TestSlackFileShares(t *testing.T) {
	fake := fakeslack.New()
	t.Cleanup(fake.Close)
	g := launch(t, fmt.Sprintf(slackMediaConfig, mcpTestServer(t)), func(dir string) []string {
		return []string{
			"AGENTGATE_DATABASE_URL=sqlite://" + filepath.Join(dir, "state.db"),
			"AGENTGATE_SLACK_SIGNING_SECRET=" + slackSecret,
			"AGENTGATE_SLACK_BOT_TOKEN=xoxb-e2e-main",
			"AGENTGATE_SLACK_API_URL=" + fake.URL(),
			"AGENTGATE_SLACK_APPS_CHARTS_SIGNING_SECRET=" + slackSlowSecret,
			"AGENTGATE_SLACK_APPS_CHARTS_BOT_TOKEN=xoxb-e2e-charts",
		}
	}, nil)

	t.Run("a PNG shared in a mention becomes the run's media", func(t *testing.T) {
		img := mediatest.PNG(5, 4)
		f := fake.AddFile("photo.png", "image/png", "xoxb-e2e-main", img)
		ts := newSlackTS()
		slackEvent(t, g, slackSecret, fakeslack.MentionWithFiles("EvM1", "C300", "U300", ts, "", "what is in it?", f), nil)
		want := fmt.Sprintf("Slack file: image/png photo.png %d bytes sha256:%s", len(img), sha(img))
		waitSlack(t, fake, "C300", ts, "the model's description of the file", hasText(want))
		if dl := fake.Downloads(); len(dl) != 1 || dl[0].Authorization != "Bearer xoxb-e2e-main" || dl[0].Status != http.StatusOK {
			t.Fatalf("downloads: %+v", dl)
		}
		session := "assistant:C300:" + ts
		var runs []struct {
			Status string `json:"status"`
			Input  struct {
				InputContent string           `json:"input_content"`
				Images       []map[string]any `json:"images"`
			} `json:"input"`
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			decode(t, want2(t, g, "/agents/assistant/runs?session_id="+session), &runs)
			if len(runs) == 1 && runs[0].Status == "COMPLETED" || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(runs) != 1 || len(runs[0].Input.Images) != 1 || runs[0].Input.InputContent != "what is in it?" {
			t.Fatalf("stored runs: %+v", runs)
		}
		m := runs[0].Input.Images[0]
		if m["id"] != sha(img) || m["name"] != "photo.png" || m["mime_type"] != "image/png" {
			t.Fatalf("the run's image: %+v", m)
		}
		resp := g.get(t, testCtx(t, 10*time.Second), "/sessions/"+session+"/media/"+sha(img))
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(b, img) {
			t.Fatalf("the media route: %d, %d bytes", resp.StatusCode, len(b))
		}
	})

	t.Run("an oversized file is named in the thread", func(t *testing.T) {
		f := fake.AddFile("huge.png", "image/png", "xoxb-e2e-main", []byte("x"))
		f.Size = 21 << 20 // over the default 20 MiB per file
		ts := newSlackTS()
		slackEvent(t, g, slackSecret, fakeslack.MentionWithFiles("EvM2", "C300", "U300", ts, "", "and this?", f), nil)
		waitSlack(t, fake, "C300", ts, "a refusal naming the file", hasText(`file "huge.png" is 22020096 bytes, over the limit of 20971520 bytes`))
	})

	t.Run("a tool's media are uploaded into the thread", func(t *testing.T) {
		ts := newSlackTS()
		slackEvent(t, g, slackSlowSecret, fakeslack.Mention("EvM3", "C301", "U301", ts, "", "draw"), nil)
		var ups []fakeslack.Upload
		if !fake.Wait(30*time.Second, func() bool {
			ups = fake.Uploads()
			n := 0
			for _, u := range ups {
				if u.Completed {
					n++
				}
			}
			return n == 3
		}) {
			t.Fatalf("uploads: %+v", ups)
		}
		byName := map[string][]byte{}
		for _, u := range ups {
			if u.Channel != "C301" || u.ThreadTS != ts || u.UploadAuth != "Bearer xoxb-e2e-charts" {
				t.Fatalf("upload %s went to %s/%s with %q", u.Filename, u.Channel, u.ThreadTS, u.UploadAuth)
			}
			byName[filepath.Ext(u.Filename)] = u.Data
		}
		if !bytes.Equal(byName[".png"], mediatest.PNG(4, 3)) || !bytes.Equal(byName[".wav"], mcptestserver.ChartWAV) || string(byName[".csv"]) != mcptestserver.ChartCSV {
			t.Fatalf("uploaded: %v", ups)
		}
		waitSlack(t, fake, "C301", ts, "the reply", hasText("drawn:"))
	})
}

// want2 is a GET that must answer 200.
func want2(t *testing.T, g *gateway, path string) []byte {
	t.Helper()
	return expectStatus(t, g.get(t, testCtx(t, 10*time.Second), path), http.StatusOK)
}
