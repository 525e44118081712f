package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core/media/mediatest"
	"github.com/agentgate/agentgate/core/model/anthropic/anthropictest"
	"github.com/agentgate/agentgate/core/model/openai/openaitest"
)

// Files and media in runs, end to end through the binary: a multipart run
// with an image and a PDF reaches the model in the provider's own format,
// the stored run lists them, and the session's media route serves them
// back (with ranges) to the session's owner only.

const mediaConfig = `auth_mode: jwt
jwt_key: "` + authSecret + `"
auth:
  jwt_algorithm: HS256
media:
  max_file_bytes: 200000
models:
  llm:
    provider: %s
    model: %s
    base_url: %s
    api_key: test-key
    max_retries: 0
    timeout: 20s
  echo:
    provider: scripted
    model: echo-1
    script:
      - reply: "got {{media}}"
agents:
  - id: vision
    model: llm
  - id: echo
    model: echo
`

// mediaFile is one file part of a run form.
type mediaFile struct {
	name, contentType string
	data              []byte
}

// runForm is a multipart run form with fields and files.
func runForm(t testing.TB, fields map[string]string, files ...mediaFile) *reqBody {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="files"; filename=%q`, f.name))
		if f.contentType != "" {
			h.Set("Content-Type", f.contentType)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.data)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return &reqBody{ct: mw.FormDataContentType(), data: buf.Bytes()}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// storedMedia checks the run's input lists the image and the PDF, and
// returns their URLs.
func storedMedia(t *testing.T, b []byte, png, pdf []byte) (imageURL, fileURL string) {
	t.Helper()
	var r struct {
		SessionID string `json:"session_id"`
		Status    string `json:"status"`
		Input     struct {
			Images []map[string]any `json:"images"`
			Files  []map[string]any `json:"files"`
		} `json:"input"`
	}
	decode(t, b, &r)
	if r.Status != "COMPLETED" || len(r.Input.Images) != 1 || len(r.Input.Files) != 1 {
		t.Fatalf("run: %s", b)
	}
	img, file := r.Input.Images[0], r.Input.Files[0]
	if img["id"] != sha(png) || img["mime_type"] != "image/png" || img["name"] != "dot.png" || img["width"] != 3.0 ||
		file["id"] != sha(pdf) || file["mime_type"] != "application/pdf" {
		t.Fatalf("input media: %s", b)
	}
	want := "/sessions/" + r.SessionID + "/media/"
	if img["url"] != want+sha(png) || file["url"] != want+sha(pdf) {
		t.Fatalf("media urls: %v %v", img["url"], file["url"])
	}
	return img["url"].(string), file["url"].(string)
}

func TestRunMediaOpenAI(t *testing.T) {
	t.Parallel()
	srv := openaitest.NewServer(t)
	g := startGateway(t, fmt.Sprintf(mediaConfig, "openai", "gpt-vision", srv.URL()))
	alice := mint(t, "alice", "agents:run", "agents:read", "sessions:read")
	bob := mint(t, "bob", "agents:run", "agents:read", "sessions:read")
	png, pdf := mediatest.PNG(3, 2), []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")

	srv.Push(openaitest.Reply{Text: "A red line and a PDF."})
	b := want(t, g, alice, http.MethodPost, "/agents/vision/runs", runForm(t, map[string]string{"message": "what are these?", "stream": "false"},
		mediaFile{"dot.png", "image/png", png}, mediaFile{"doc.pdf", "", pdf}), http.StatusOK)
	imgURL, fileURL := storedMedia(t, b, png, pdf)

	// The model got the text, the image as an image_url data URL and the
	// PDF as a file part.
	var body struct {
		Messages []struct {
			Role    string `json:"role"`
			Content json.RawMessage
		} `json:"messages"`
	}
	if err := json.Unmarshal(srv.Requests()[0].Raw, &body); err != nil {
		t.Fatal(err)
	}
	user := body.Messages[len(body.Messages)-1]
	var parts []map[string]any
	if err := json.Unmarshal(user.Content, &parts); err != nil {
		t.Fatalf("user content %s: %v", user.Content, err)
	}
	b64 := base64.StdEncoding.EncodeToString
	if len(parts) != 3 || parts[0]["text"] != "what are these?" ||
		parts[1]["type"] != "image_url" || parts[1]["image_url"].(map[string]any)["url"] != "data:image/png;base64,"+b64(png) ||
		parts[2]["type"] != "file" || parts[2]["file"].(map[string]any)["file_data"] != "data:application/pdf;base64,"+b64(pdf) ||
		parts[2]["file"].(map[string]any)["filename"] != "doc.pdf" {
		t.Fatalf("user message parts: %s", user.Content)
	}

	// The media route serves them back, whole and by range, to alice only.
	resp, got := call(t, g, alice, http.MethodGet, imgURL, nil)
	if resp.StatusCode != 200 || !bytes.Equal(got, png) || resp.Header.Get("Content-Type") != "image/png" || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("image: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), got)
	}
	resp, got = callHeader(t, g, http.MethodGet, fileURL, nil, map[string]string{"Authorization": "Bearer " + alice, "Range": "bytes=5-12"})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, pdf[5:13]) || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 5-12/%d", len(pdf)) {
		t.Fatalf("range: %d %q %q", resp.StatusCode, got, resp.Header.Get("Content-Range"))
	}
	resp, _ = callHeader(t, g, http.MethodGet, fileURL, nil, map[string]string{"Authorization": "Bearer " + alice, "Range": "bytes=99999-"})
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("range past the end: %d", resp.StatusCode)
	}
	want(t, g, bob, http.MethodGet, imgURL, nil, http.StatusNotFound)
	// A medium of another session (bob's own run) is not served through
	// alice's session, nor a key no run carries.
	sid := strings.Split(imgURL, "/")[2]
	srv.Push(openaitest.Reply{Text: "ok"})
	other := []byte("bob's notes")
	want(t, g, bob, http.MethodPost, "/agents/vision/runs", runForm(t, map[string]string{"message": "read", "stream": "false"},
		mediaFile{"notes.txt", "text/plain", other}), http.StatusOK)
	want(t, g, alice, http.MethodGet, "/sessions/"+sid+"/media/"+sha(other), nil, http.StatusNotFound)
	want(t, g, alice, http.MethodGet, "/sessions/"+sid+"/media/not-a-key", nil, http.StatusNotFound)
	// The text model request for bob's plain-text file: OpenAI takes no
	// text files natively, so it arrived as text in the message.
	last := srv.Requests()[1]
	if !strings.Contains(string(last.Raw), "bob's notes") || !strings.Contains(string(last.Raw), `<file name=\"notes.txt\"`) {
		t.Fatalf("text document: %s", last.Raw)
	}
}

func TestRunMediaAnthropic(t *testing.T) {
	t.Parallel()
	srv := anthropictest.NewServer(t)
	g := startGateway(t, fmt.Sprintf(mediaConfig, "anthropic", "claude-vision", srv.URL()))
	alice := mint(t, "alice", "agents:run", "agents:read", "sessions:read")
	png, pdf := mediatest.PNG(3, 2), []byte("%PDF-1.7\n%%EOF\n")
	srv.Push(anthropictest.Reply{Blocks: []anthropictest.Block{{Type: "text", Text: "seen"}}})
	b := want(t, g, alice, http.MethodPost, "/agents/vision/runs", runForm(t, map[string]string{"message": "what are these?", "stream": "false"},
		mediaFile{"dot.png", "", png}, mediaFile{"doc.pdf", "application/pdf", pdf}), http.StatusOK)
	storedMedia(t, b, png, pdf)
	var body struct {
		Messages []struct {
			Content []struct {
				Type   string         `json:"type"`
				Text   string         `json:"text"`
				Source map[string]any `json:"source"`
			} `json:"content"`
		} `json:"messages"`
	}
	if err := srv.Requests()[0].Decode(&body); err != nil {
		t.Fatal(err)
	}
	c := body.Messages[0].Content
	b64 := base64.StdEncoding.EncodeToString
	if len(c) != 3 || c[0].Type != "image" || c[0].Source["media_type"] != "image/png" || c[0].Source["data"] != b64(png) ||
		c[1].Type != "document" || c[1].Source["media_type"] != "application/pdf" || c[1].Source["data"] != b64(pdf) ||
		c[2].Text != "what are these?" {
		t.Fatalf("content blocks: %+v", c)
	}
	// Anthropic takes no audio: the run fails, saying so, rather than
	// dropping it.
	wav := append([]byte("RIFF\x00\x00\x00\x00WAVEfmt "), make([]byte, 32)...)
	b = want(t, g, alice, http.MethodPost, "/agents/vision/runs", runForm(t, map[string]string{"message": "listen", "stream": "false"},
		mediaFile{"a.wav", "audio/wav", wav}), http.StatusOK)
	if !strings.Contains(string(b), `"status":"ERROR"`) || !strings.Contains(string(b), "unsupported_media") || !strings.Contains(string(b), "does not take audio") {
		t.Fatalf("audio to anthropic: %s", b)
	}
}

// TestRunMediaBadInput: what a run form's files may not be.
func TestRunMediaBadInput(t *testing.T) {
	t.Parallel()
	g := startGateway(t, fmt.Sprintf(mediaConfig, "openai", "m", "http://127.0.0.1:1"))
	alice := mint(t, "alice", "agents:run", "agents:read", "sessions:read")
	for _, tc := range []struct {
		name   string
		file   mediaFile
		status int
		detail string
	}{
		{"lying type", mediaFile{"x.png", "image/png", []byte("not a png at all")}, 400, "its bytes are not a PNG"},
		{"unsupported", mediaFile{"x.exe", "application/x-msdownload", []byte("MZ")}, 400, "is not supported"},
		{"too large", mediaFile{"big.txt", "text/plain", bytes.Repeat([]byte("a"), 200001)}, 413, "over the limit of 200000 bytes"},
		{"pixel bomb", mediaFile{"bomb.png", "image/png", pngBomb()}, 400, "pixels, over the limit"},
	} {
		resp, b := call(t, g, alice, http.MethodPost, "/agents/echo/runs", runForm(t, map[string]string{"message": "x", "stream": "false"}, tc.file))
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.detail) {
			t.Errorf("%s: %d %s, want %d naming %q", tc.name, resp.StatusCode, b, tc.status, tc.detail)
		}
	}
	// The scripted model sees what arrived, byte for byte.
	txt := []byte("hello media")
	b := want(t, g, alice, http.MethodPost, "/agents/echo/runs", runForm(t, map[string]string{"message": "x", "stream": "false"},
		mediaFile{"h.txt", "", txt}), http.StatusOK)
	if !strings.Contains(string(b), "got text/plain h.txt 11 bytes sha256:"+sha(txt)) {
		t.Fatalf("echo: %s", b)
	}
	// A streamed run with a file works the same way.
	resp := send(t, g, alice, http.MethodPost, "/agents/echo/runs", runForm(t, map[string]string{"message": "x"}, mediaFile{"h.md", "", txt}))
	expectSSE(t, resp)
	frames := readFrames(t, resp.Body)
	resp.Body.Close()
	if last := frames[len(frames)-1].Data; !strings.Contains(last, "got text/markdown h.md") {
		t.Fatalf("streamed: %s", last)
	}
}

// pngBomb is a PNG header claiming 60,000 × 60,000 pixels (a valid
// IHDR chunk, no pixel data).
func pngBomb() []byte {
	out := append([]byte(nil), mediatest.PNG(1, 1)...)
	binary.BigEndian.PutUint32(out[16:], 60000)
	binary.BigEndian.PutUint32(out[20:], 60000)
	// IHDR: length at 8, type at 12, 13 bytes of data at 16, CRC at 29.
	binary.BigEndian.PutUint32(out[29:], crc32.ChecksumIEEE(out[12:29]))
	return out
}

// TestRunMediaJSONFields: AgentOS's JSON media fields (base64 content,
// data: URLs, URLs), URLs fetched through the egress guard.
func TestRunMediaJSONFields(t *testing.T) {
	t.Parallel()
	png := mediatest.PNG(5, 5)
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cat.png" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(png)
	}))
	t.Cleanup(files.Close)
	cfg := fmt.Sprintf(mediaConfig, "openai", "m", "http://127.0.0.1:1")
	strict := startGateway(t, cfg)
	alice := mint(t, "alice", "agents:run", "agents:read", "sessions:read")
	b64 := base64.StdEncoding.EncodeToString(png)

	// Base64 content and a data: URL need no fetch.
	b := want(t, strict, alice, http.MethodPost, "/agents/echo/runs", formBody(url.Values{"message": {"x"}, "stream": {"false"},
		"images":      {`[{"content":"` + b64 + `","mime_type":"image/png","filename":"a.png"}]`},
		"input_files": {`["data:text/plain;base64,` + base64.StdEncoding.EncodeToString([]byte("notes")) + `"]`}}), http.StatusOK)
	if !strings.Contains(string(b), "got image/png a.png "+fmt.Sprint(len(png))+" bytes sha256:"+sha(png)) || !strings.Contains(string(b), "text/plain input_files-0 5 bytes") {
		t.Fatalf("json media: %s", b)
	}
	// A loopback URL is refused by the egress guard, naming it.
	cat := files.URL + "/cat.png"
	resp, b := call(t, strict, alice, http.MethodPost, "/agents/echo/runs", formBody(url.Values{"message": {"x"}, "stream": {"false"}, "images": {`["` + cat + `"]`}}))
	if resp.StatusCode != 400 || !strings.Contains(string(b), cat) {
		t.Fatalf("loopback URL: %d %s", resp.StatusCode, b)
	}
	// Allowed by egress.allow, it is fetched and stored; a missing one is a
	// 400 naming it.
	host := strings.TrimPrefix(files.URL, "http://")
	open := startGateway(t, cfg+"egress:\n  allow: [\""+host+"\"]\n")
	b = want(t, open, alice, http.MethodPost, "/agents/echo/runs", formBody(url.Values{"message": {"x"}, "stream": {"false"}, "images": {`["` + cat + `"]`}}), http.StatusOK)
	if !strings.Contains(string(b), "got image/png cat.png") || !strings.Contains(string(b), sha(png)) {
		t.Fatalf("fetched: %s", b)
	}
	resp, b = call(t, open, alice, http.MethodPost, "/agents/echo/runs", formBody(url.Values{"message": {"x"}, "stream": {"false"}, "images": {`["` + files.URL + `/gone.png"]`}}))
	if resp.StatusCode != 400 || !strings.Contains(string(b), "/gone.png") || !strings.Contains(string(b), "404") {
		t.Fatalf("missing URL: %d %s", resp.StatusCode, b)
	}
}

// TestWSStartWithMedia: a WebSocket start carries media as AgentOS's JSON
// media (base64 content); a bad one is an error frame naming it.
func TestWSStartWithMedia(t *testing.T) {
	t.Parallel()
	g := startGateway(t, wsConfigMore("", `  echo:
    provider: scripted
    model: echo-1
    script:
      - reply: "got {{media}}"
`, `  - id: echo
    model: echo
`))
	w, _ := wsDial(t, g, nil)
	png := mediatest.PNG(2, 3)
	w.send(map[string]any{"action": "start", "id": 1, "agent_id": "echo", "message": "look",
		"images": []map[string]any{{"content": base64.StdEncoding.EncodeToString(png), "mime_type": "image/png", "filename": "p.png"}}})
	ack := w.expect("ack")
	evs := w.untilEnd(ack.RunID, 0)
	if last := evs[len(evs)-1]; !strings.Contains(last.Content, "got image/png p.png "+fmt.Sprint(len(png))+" bytes sha256:"+sha(png)) {
		t.Fatalf("final %s", last)
	}
	r, b := g.getRun(t, testCtx(t, 10*time.Second), "echo", ack.RunID)
	if r.Status != "COMPLETED" || !strings.Contains(string(b), `"images":[{"id":"`+sha(png)) {
		t.Fatalf("stored run: %s", b)
	}
	w.send(map[string]any{"action": "start", "id": 2, "agent_id": "echo", "message": "look",
		"images": []map[string]any{{"content": base64.StdEncoding.EncodeToString([]byte("not a png")), "mime_type": "image/png"}}})
	f := w.expect("error")
	if f.Code != "invalid" || !strings.Contains(f.Detail, "not a PNG") {
		t.Fatalf("bad image: %s", f)
	}
	w.send(map[string]any{"action": "start", "id": 3, "agent_id": "echo", "message": "look", "files": "not json"})
	if f := w.expect("error"); f.Code != "invalid" || !strings.Contains(f.Detail, "files") {
		t.Fatalf("bad files: %s", f)
	}
}
