package slack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/adapters/slack/fakeslack"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/media"
	"github.com/agentgate/agentgate/core/media/mediatest"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/transport/egress"
)

// testFileLimit is the media store's per-file limit in these tests.
const testFileLimit = 64 << 10

// mediaAgents: eye describes the media it received ({{media}}: type,
// name, size and the hash of the bytes the model got); painter calls a
// tool that returns a PNG chart.
func mediaAgents(t *testing.T, chart []byte) []core.Agent {
	t.Helper()
	eye, err := agent.New(agent.Config{ID: "eye", ModelName: "eye", Model: scripted.New(scripted.Config{Rules: []scripted.Rule{{
		Reply: "I see: {{media}} (asked: {{input}})"}}})})
	if err != nil {
		t.Fatal(err)
	}
	draw := &tool.Tool{Name: "draw", Description: "draws a chart", Parameters: map[string]any{"type": "object"},
		Call: func(context.Context, json.RawMessage) (string, error) { return "a chart", nil },
		CallOutput: func(context.Context, json.RawMessage) (tool.Output, error) {
			return tool.Output{Text: "a chart", Media: []tool.Medium{{Name: "chart.png", MIMEType: "image/png", Data: chart}}}, nil
		}}
	painter, err := agent.New(agent.Config{ID: "painter", ModelName: "painter", Tools: []*tool.Tool{draw},
		Model: scripted.New(scripted.Config{Rules: []scripted.Rule{{ToolCalls: []scripted.Call{{Name: "draw"}}, Reply: "Here is {{tool_result}}."}}})})
	if err != nil {
		t.Fatal(err)
	}
	return []core.Agent{eye, painter}
}

// mediaHarness is the harness with a media store (a directory) that the
// engine opens and stores tools' media in, and the adapter stores shared
// files in (limit testFileLimit per file, the egress guard as its client).
func mediaHarness(t *testing.T, agentID string, chart []byte, mutate func(*Config)) (*harness, media.Store) {
	t.Helper()
	store, err := media.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return mediaHarnessOn(t, store, agentID, chart, mutate), store
}

// mediaHarnessOn is mediaHarness on a given media store.
func mediaHarnessOn(t *testing.T, store media.Store, agentID string, chart []byte, mutate func(*Config)) *harness {
	t.Helper()
	guard, err := egress.New(egress.Config{})
	if err != nil {
		t.Fatal(err)
	}
	lim := media.Limits{MaxBytes: testFileLimit}
	engCfg := core.EngineConfig{Media: store, IngestMedia: func(ctx context.Context, name, mt string, data []byte) (core.MediaRef, error) {
		return media.IngestBytes(ctx, store, data, name, mt, lim)
	}}
	res := &media.Resolver{Store: store, Client: guard.Client(10 * time.Second), Limits: lim}
	hs := newHarnessWith(t, agentID, engCfg, mediaAgents(t, chart), func(c *Config) {
		c.Media = res
		if mutate != nil {
			mutate(c)
		}
	})
	return hs
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// The must-show: a PNG shared in a mention is downloaded with the
// bot token, stored, and becomes the run's input media: the model receives
// its bytes whole, the stored run lists it, and the session serves it.
func TestMentionFileShareBecomesRunMedia(t *testing.T) {
	hs, store := mediaHarness(t, "eye", nil, nil)
	img := mediatest.PNG(3, 2)
	f := hs.fake.AddFile("dot.png", "image/png", "xoxb-main", img)
	ts := hs.ts()
	hs.event(fakeslack.MentionWithFiles("EvF1", "C1", "U1", ts, "", "what is this?", f), nil)
	want := fmt.Sprintf("I see: image/png dot.png %d bytes sha256:%s (asked: what is this?)", len(img), sha(img))
	hs.waitText("C1", ts, want)
	hs.drain()

	dl := hs.fake.Downloads()
	if len(dl) != 1 || dl[0].FileID != f.ID || dl[0].Authorization != "Bearer xoxb-main" || dl[0].Status != http.StatusOK {
		t.Fatalf("want one download of %s with the bot token; got %+v", f.ID, dl)
	}
	session := "eye:C1:" + ts
	runs := hs.runsOf(session)
	if len(runs) != 1 {
		t.Fatalf("session %s: %d runs", session, len(runs))
	}
	r := runs[0]
	if len(r.Input.Images) != 1 || r.Input.InputContent != "what is this?" || r.Status != core.RunCompleted {
		t.Fatalf("run input: %+v, status %s", r.Input, r.Status)
	}
	m := r.Input.Images[0]
	if m.ID != sha(img) || m.Name != "dot.png" || m.MIMEType != "image/png" || m.Kind != core.MediaImage || m.Size != int64(len(img)) || m.Width != 3 || m.Height != 2 {
		t.Fatalf("run's image: %+v", m)
	}
	got, err := core.ReadMedia(context.Background(), store, m.ID, testFileLimit)
	if err != nil || !bytes.Equal(got, img) {
		t.Fatalf("the media store holds %d bytes (%v), want the PNG's %d", len(got), err, len(img))
	}
	if sm, err := hs.eng.SessionMedia(context.Background(), session, m.ID); err != nil || sm.Name != "dot.png" {
		t.Fatalf("the session's media: %+v %v", sm, err)
	}
}

// A DM sharing a file without a word starts a run named after the file;
// a file whose event has no details (Slack Connect: check_file_info) is
// looked up with files.info first.
func TestDirectMessageFileShareAndFilesInfo(t *testing.T) {
	hs, _ := mediaHarness(t, "eye", nil, nil)
	csv := []byte("a,b\n1,2\n")
	f := hs.fake.AddFile("data.csv", "text/csv", "xoxb-main", csv)
	ts := hs.ts()
	hs.event(fakeslack.DirectMessageWithFiles("EvF2", "D1", "U1", ts, "", fakeslack.File{ID: f.ID, FileAccess: "check_file_info"}), nil)
	hs.waitText("D1", ts, fmt.Sprintf("I see: text/csv data.csv %d bytes sha256:%s (asked: Files shared: data.csv)", len(csv), sha(csv)))
	hs.drain()
	if n := len(hs.fake.Calls("files.info")); n != 1 {
		t.Errorf("files.info calls: %d, want 1", n)
	}
	runs := hs.runsOf("eye:D1:" + ts)
	if len(runs) != 1 || len(runs[0].Input.Files) != 1 || runs[0].Input.Files[0].MIMEType != "text/csv" {
		t.Fatalf("the DM's run should carry the CSV: %+v", runs)
	}
}

// A shared file that cannot be taken is named in a reply in the thread,
// and no run starts (as REST refuses the whole request): too large by its
// metadata (not downloaded), too large while downloading (metadata that
// understates), a type the gateway does not take, bytes that are not
// their type, deleted since, not readable with the token (the sign-in
// redirect, hinting at files:read), a URL off Slack (no token sent), a
// tombstone, an external link.
func TestSharedFileRefusedWithReply(t *testing.T) {
	hs, _ := mediaHarness(t, "eye", nil, nil)
	png := mediatest.PNG(2, 2)
	big := bytes.Repeat([]byte{'x'}, testFileLimit+1)
	understated := hs.fake.AddFile("under.txt", "text/plain", "xoxb-main", big)
	understated.Size = 10
	gone := hs.fake.AddFile("gone.png", "image/png", "xoxb-main", png)
	hs.fake.RemoveFile(gone.ID)
	offSlack := fakeslack.File{ID: "F0OFF", Name: "evil.png", Mimetype: "image/png", Size: 10, URLPrivate: "http://127.0.0.1:1/evil.png"}
	cases := []struct {
		name     string
		file     fakeslack.File
		want     string
		download bool // a request for the file's bytes is made
	}{
		{"oversize", hs.fake.AddFile("big.png", "image/png", "xoxb-main", big), fmt.Sprintf(`file "big.png" is %d bytes, over the limit of %d bytes`, len(big), testFileLimit), false},
		{"understated", understated, fmt.Sprintf(`file "under.txt" is over the limit of %d bytes`, testFileLimit), true},
		{"type", hs.fake.AddFile("tool.exe", "application/x-msdownload", "xoxb-main", []byte("MZ\x90\x00binary")), `file "tool.exe": content type "application/x-msdownload" is not supported`, true},
		{"lying", hs.fake.AddFile("fake.png", "image/png", "xoxb-main", []byte("not a png at all")), `file "fake.png": declared image/png, but its bytes are not a PNG file`, true},
		{"gone", gone, `file "gone.png" could not be downloaded from Slack: slack server error: 404 Not Found`, true},
		{"token", hs.fake.AddFile("secret.png", "image/png", "xoxb-another-app", png), `file "secret.png" could not be downloaded from Slack: file download was redirected to the sign-in page`, true},
		{"off-slack", offSlack, `file "evil.png" could not be downloaded from Slack: refusing to send the token to "http://127.0.0.1:1/evil.png"`, false},
		{"https-off-slack", fakeslack.File{ID: "F0EVL", Name: "x.png", Mimetype: "image/png", Size: 10, URLPrivateDownload: "https://files.slack.com.evil.example/x.png"},
			`file "x.png" could not be downloaded from Slack: refusing to send the token to "https://files.slack.com.evil.example/x.png"`, false},
		{"tombstone", fakeslack.File{ID: "F0DEL", Name: "old.pdf", Mode: "tombstone"}, `file "old.pdf" was deleted`, false},
		{"external", fakeslack.File{ID: "F0EXT", Name: "doc", Mode: "external", IsExternal: true, URLPrivate: "https://docs.example/doc"}, `file "doc" is a link to a file kept outside Slack`, false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(hs.fake.Downloads())
			ts := hs.ts()
			hs.event(fakeslack.MentionWithFiles(fmt.Sprintf("EvR%d", i), "C1", "U1", ts, "", "look", tc.file), nil)
			msgs := hs.waitText("C1", ts, "did not start")
			hs.drain()
			if len(msgs) != 1 || !strings.Contains(msgs[0].Text, escape(tc.want)) {
				t.Fatalf("want one reply naming the file (%q); got %s", tc.want, dump(msgs))
			}
			if tc.name == "token" && !strings.Contains(msgs[0].Text, "files:read") {
				t.Errorf("a download the token may not make should hint at the files:read scope: %q", msgs[0].Text)
			}
			if runs := hs.runsOf("eye:C1:" + ts); len(runs) != 0 {
				t.Fatalf("a refused file started %d runs", len(runs))
			}
			if made := len(hs.fake.Downloads()) > before; made != tc.download {
				t.Errorf("download requested: %v, want %v", made, tc.download)
			}
		})
	}
	// Nothing of the above reached the fake without the bot token but the
	// other app's file, and no request went off Slack.
	for _, d := range hs.fake.Downloads() {
		if d.Authorization != "Bearer xoxb-main" {
			t.Errorf("a download without the bot token: %+v", d)
		}
	}
}

// Two files that are each within the limit but together over the run's
// bound are refused, the second named.
func TestSharedFilesOverRunLimit(t *testing.T) {
	hs, _ := mediaHarness(t, "eye", nil, func(c *Config) { c.Media.MaxRunBytes = testFileLimit + 100 })
	a := hs.fake.AddFile("a.txt", "text/plain", "xoxb-main", bytes.Repeat([]byte("a"), testFileLimit-10))
	b := hs.fake.AddFile("b.txt", "text/plain", "xoxb-main", bytes.Repeat([]byte("b"), 200))
	ts := hs.ts()
	hs.event(fakeslack.MentionWithFiles("EvL", "C1", "U1", ts, "", "both", a, b), nil)
	msgs := hs.waitText("C1", ts, "did not start")
	hs.drain()
	if !strings.Contains(msgs[0].Text, `file "b.txt" is 200 bytes: with the other files it is over the limit`) || strings.Contains(msgs[0].Text, "a.txt") {
		t.Fatalf("want b.txt (only) named over the run's limit: %s", dump(msgs))
	}
}

// Without a media store, a shared file is refused with a reply.
func TestSharedFileWithoutMediaStore(t *testing.T) {
	hs := newHarness(t, "echo", nil)
	f := hs.fake.AddFile("dot.png", "image/png", "xoxb-main", mediatest.PNG(1, 1))
	ts := hs.ts()
	hs.event(fakeslack.MentionWithFiles("EvN", "C1", "U1", ts, "", "see", f), nil)
	msgs := hs.waitText("C1", ts, "keeps no media")
	hs.drain()
	if len(msgs) != 1 || len(hs.runsOf("echo:C1:"+ts)) != 0 || len(hs.fake.Downloads()) != 0 {
		t.Fatalf("want one refusal, no run, no download: %s", dump(msgs))
	}
}

// A files field the adapter cannot read is answered in the thread.
func TestUnreadableFilesField(t *testing.T) {
	hs, _ := mediaHarness(t, "eye", nil, nil)
	ts := hs.ts()
	body := bytes.Replace(fakeslack.Mention("EvU", "C1", "U1", ts, "", "hi"), []byte(`"type":"app_mention"`), []byte(`"type":"app_mention","files":[{"id":"F1","size":"huge"}]`), 1)
	hs.event(body, nil)
	msgs := hs.waitText("C1", ts, "could not read the files")
	hs.drain()
	if len(hs.runsOf("eye:C1:"+ts)) != 0 {
		t.Fatalf("a message whose files do not parse started a run: %s", dump(msgs))
	}
}

// A tool's image is uploaded into the reply's thread by the external
// upload flow (a 429 on the first step is waited out), after the reply.
func TestToolMediaUploadedToThread(t *testing.T) {
	for _, streaming := range []bool{false, true} {
		t.Run(fmt.Sprintf("streaming=%v", streaming), func(t *testing.T) {
			chart := mediatest.PNG(4, 4)
			hs, _ := mediaHarness(t, "painter", chart, func(c *Config) { c.Streaming = streaming })
			hs.fake.RateLimit("files.getUploadURLExternal", 1)
			ts := hs.ts()
			hs.event(fakeslack.Mention("EvT", "C1", "U1", ts, "", "draw me a chart"), nil)
			var ups []fakeslack.Upload
			if !hs.fake.Wait(20*time.Second, func() bool {
				ups = hs.fake.Uploads()
				return len(ups) == 1 && ups[0].Completed
			}) {
				t.Fatalf("no completed upload: %+v; thread: %s", ups, dump(hs.fake.Messages("C1", ts)))
			}
			hs.drain()
			u := ups[0]
			if !bytes.Equal(u.Data, chart) || u.Filename != "chart.png" || u.Title != "chart.png" || u.Channel != "C1" || u.ThreadTS != ts ||
				u.Length != len(chart) || u.UploadAuth != "Bearer xoxb-main" {
				t.Fatalf("upload: %+v (%d bytes), want the chart's %d bytes into C1/%s", u, len(u.Data), len(chart), ts)
			}
			if n := len(hs.fake.Calls("files.getUploadURLExternal")); n != 2 {
				t.Errorf("files.getUploadURLExternal calls: %d, want 2 (a 429, then the upload)", n)
			}
			msgs := hs.fake.Messages("C1", ts)
			if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "Here is a chart.") {
				t.Fatalf("the reply should be in the thread too: %s", dump(msgs))
			}
			completes := hs.fake.Calls("files.completeUploadExternal")
			replies := hs.fake.Calls("chat.postMessage")
			if streaming {
				replies = hs.fake.Calls("chat.stopStream")
			} else if upd := hs.fake.Calls("chat.update"); len(upd) > 0 {
				replies = upd
			}
			if len(completes) != 1 || len(replies) == 0 || completes[0].At.Before(replies[len(replies)-1].At) {
				t.Errorf("the upload should be shared after the reply is written")
			}
			runs := hs.runsOf("painter:C1:" + ts)
			if len(runs) != 1 || len(runs[0].Images) != 1 || runs[0].Images[0].ID != sha(chart) {
				t.Fatalf("the run should list the chart: %+v", runs)
			}
		})
	}
}

// An upload Slack keeps refusing (429 past the retries) is named in the
// thread, after the reply.
func TestToolMediaUploadFailureNamed(t *testing.T) {
	hs, _ := mediaHarness(t, "painter", mediatest.PNG(2, 2), nil)
	hs.fake.RateLimit("files.getUploadURLExternal", 0, 0, 0, 0)
	ts := hs.ts()
	hs.event(fakeslack.Mention("EvTF", "C1", "U1", ts, "", "draw"), nil)
	msgs := hs.waitText("C1", ts, "could not upload")
	hs.drain()
	if len(msgs) != 2 || !strings.Contains(msgs[0].Text, "Here is a chart.") || !strings.Contains(msgs[1].Text, "chart.png: ") {
		t.Fatalf("want the reply, then a notice naming chart.png: %s", dump(msgs))
	}
	if ups := hs.fake.Uploads(); len(ups) != 0 {
		t.Fatalf("uploads: %+v", ups)
	}
}

// The file client reaches the API URL's own origin with the Web API
// client, and any other host through the egress guard (a loopback address
// it refuses); without a guard, no other host at all.
func TestFileClientRoutesThroughEgressGuard(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer ok.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { t.Error("the other host was reached") }))
	defer other.Close()
	guard, err := egress.New(egress.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := newFileClient(ok.URL+"/api/", http.DefaultClient, guard.Client(5*time.Second))
	req, _ := http.NewRequest(http.MethodGet, ok.URL+"/files-pri/x", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("the API URL's host: %v", err)
	}
	_ = resp.Body.Close()
	req, _ = http.NewRequest(http.MethodGet, other.URL+"/files-pri/x", nil)
	var refused *egress.RefusedError
	if _, err := c.Do(req); !errors.As(err, &refused) {
		t.Fatalf("another loopback host should be refused by the egress guard; got %v", err)
	}
	if _, err := newFileClient(ok.URL+"/api/", http.DefaultClient, nil).Do(req); err == nil || !strings.Contains(err.Error(), "no egress client") {
		t.Fatalf("without a guard: %v", err)
	}
}

// ParseFiles edge cases.
func TestParseFiles(t *testing.T) {
	many := "[" + strings.TrimSuffix(strings.Repeat(`{"id":"F1"},`, MaxFiles+1), ",") + "]"
	for _, tc := range []struct {
		raw  string
		n    int
		fail bool
	}{
		{"", 0, false}, {"null", 0, false}, {"[]", 0, false},
		{`[{"id":"F1","name":"a.png","size":3,"mimetype":"image/png"}]`, 1, false},
		{`[{"id":"F1"},{"id":"F2","unknown":{"nested":true}}]`, 2, false},
		{`{"id":"F1"}`, 0, true}, {`[{"name":"x"}]`, 0, true}, {`[{"id":"F:1"}]`, 0, true},
		{`[{"id":"F1","size":-1}]`, 0, true}, {`[{"id":"F1","size":"1"}]`, 0, true}, {`["F1"]`, 0, true}, {many, 0, true},
	} {
		fs, err := ParseFiles(json.RawMessage(tc.raw))
		if (err != nil) != tc.fail || len(fs) != tc.n {
			t.Errorf("ParseFiles(%.40s): %d files, err %v; want %d, fail %v", tc.raw, len(fs), err, tc.n, tc.fail)
		}
		if err != nil && !errors.Is(err, ErrPayload) {
			t.Errorf("ParseFiles(%.40s): error %v is not ErrPayload", tc.raw, err)
		}
	}
	if got := (File{ID: "F1", Name: " \x00evil\nname\x1b "}).label(); got != "evilname" {
		t.Errorf("label: %q", got)
	}
	if got := (File{ID: "F1", Title: "Title"}).label(); got != "Title" {
		t.Errorf("label falls back to the title: %q", got)
	}
	if got := uploadName(core.MediaRef{ID: strings.Repeat("ab", 32), Kind: core.MediaImage, MIMEType: "image/jpeg"}); got != "image-abababababab.jpg" {
		t.Errorf("uploadName: %q", got)
	}
	if got := uploadName(core.MediaRef{ID: "x", Name: "mt_chart-1", MIMEType: "audio/wav"}); got != "mt_chart-1.wav" {
		t.Errorf("uploadName adds the extension: %q", got)
	}
	if got := uploadName(core.MediaRef{ID: "x", Name: "points.csv", MIMEType: "text/csv"}); got != "points.csv" {
		t.Errorf("uploadName keeps a name's extension: %q", got)
	}
}
