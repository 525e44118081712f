// Package e2e tests the real agentgate binary over real HTTP: TestMain builds
// cmd/agentgate once, and every test starts its own gateway process with its
// own config and SQLite file, on a random loopback port.
//
// Set AGENTGATE_E2E_RACE=1 to build the gateway itself with -race; a data
// race reported by a gateway process then fails the test that started it.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/agentgate/agentgate/internal/testutil"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// binPath is the gateway binary TestMain built.
var binPath string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "agentgate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "agentgate")
	if err := buildGateway(binPath); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build the gateway:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

func buildGateway(out string) error {
	args := []string{"build", "-o", out}
	if os.Getenv("AGENTGATE_E2E_RACE") == "1" {
		args = append(args, "-race")
	}
	args = append(args, "github.com/agentgate/agentgate/cmd/agentgate")
	cmd := exec.Command(goTool(), args...)
	cmd.Dir = ".." // the module root
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	return cmd.Run()
}

// cleanEnv is the environment for gateway processes: ours without any
// AGENTGATE_* variable, so a developer's settings never leak into a test.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AGENTGATE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// lockedBuffer collects a process's output for failure messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// gateway is one running agentgate process.
type gateway struct {
	t      testing.TB
	URL    string // http://127.0.0.1:PORT
	Addr   string
	Dir    string // its working directory (config, SQLite file)
	cmd    *exec.Cmd
	stderr *lockedBuffer
	exited chan struct{}
	err    error // Wait's result, set before exited is closed
}

var listeningRE = regexp.MustCompile(`agentgate listening\W.*?\baddr=(\S+)`)

// startGateway writes cfg to a temp dir and starts `agentgate serve` on a
// random port with its own SQLite file; it returns once the listening line
// is logged. The process is stopped (SIGTERM, then kill) in t.Cleanup.
func startGateway(t testing.TB, cfg string) *gateway {
	t.Helper()
	return launch(t, cfg, func(dir string) []string {
		return []string{"AGENTGATE_DATABASE_URL=sqlite://" + filepath.Join(dir, "state.db")}
	}, nil)
}

// launch starts `agentgate serve --addr 127.0.0.1:0` on the config cfg,
// with the environment env(dir) (dir is the process's own temporary
// directory) on top of a clean one, and returns once it logs its listening
// address. At cleanup it runs cleanup(g), or g.stop when cleanup is nil.
func launch(t testing.TB, cfg string, env func(dir string) []string, cleanup func(g *gateway)) *gateway {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "agentgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath, "serve", "--addr", "127.0.0.1:0", "--config", cfgPath)
	cmd.Dir = dir
	cmd.Env = cleanEnv(append([]string{
		"AGENTGATE_LOG_LEVEL=info",
		// Runs still going at the end of a test must not hold up its cleanup.
		"AGENTGATE_HTTP_SHUTDOWN_TIMEOUT=2s",
	}, env(dir)...)...)
	g := &gateway{t: t, Dir: dir, cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	pr, pw := io.Pipe()
	cmd.Stdout = g.stderr
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			line := sc.Text()
			_, _ = g.stderr.Write([]byte(line + "\n"))
			if !found {
				if m := listeningRE.FindStringSubmatch(line); m != nil {
					found = true
					addrc <- m[1]
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		g.err = cmd.Wait()
		_ = pw.Close()
		close(g.exited)
	}()
	if cleanup == nil {
		cleanup = (*gateway).stop
	}
	t.Cleanup(func() { cleanup(g) })
	select {
	case addr := <-addrc:
		g.Addr = addr
		g.URL = "http://" + addr
	case <-g.exited:
		t.Fatalf("gateway exited before listening (%v):\n%s", g.err, g.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("gateway did not log its listening line within 30s:\n%s", g.stderr.String())
	}
	return g
}

// stop ends the process: SIGTERM, then SIGKILL if it has not exited in time.
// A graceful shutdown must exit 0; a gateway built with -race must not
// report a data race.
func (g *gateway) stop() {
	t := g.t
	select {
	case <-g.exited:
	default:
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-g.exited:
		case <-time.After(10 * time.Second):
			_ = g.cmd.Process.Kill()
			<-g.exited
			t.Errorf("gateway did not exit within 10s of SIGTERM; killed. stderr:\n%s", tail(g.stderr.String(), 4000))
			return
		}
	}
	out := g.stderr.String()
	if strings.Contains(out, "WARNING: DATA RACE") {
		t.Errorf("the gateway process reported a data race:\n%s", tail(out, 20000))
	}
	if strings.Contains(out, "panic:") {
		t.Errorf("the gateway process panicked:\n%s", tail(out, 8000))
	}
	if g.err != nil && !t.Failed() {
		t.Errorf("gateway exited with %v after SIGTERM; stderr:\n%s", g.err, tail(out, 4000))
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// Logs returns what the process wrote so far.
func (g *gateway) Logs() string { return g.stderr.String() }

// HTTP helpers ------------------------------------------------------------

// client has no overall timeout: streams are bounded by request contexts.
var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}

// testCtx returns a context ending at the deadline or after d, whichever
// comes first, cancelled at cleanup.
func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func (g *gateway) do(t testing.TB, ctx context.Context, method, path string, body io.Reader, contentType string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, g.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// postForm POSTs an application/x-www-form-urlencoded form.
func (g *gateway) postForm(t testing.TB, ctx context.Context, path string, form url.Values) *http.Response {
	t.Helper()
	return g.do(t, ctx, http.MethodPost, path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", nil)
}

// postMultipart POSTs a multipart/form-data form (fields in sorted order).
func (g *gateway) postMultipart(t testing.TB, ctx context.Context, path string, form url.Values) *http.Response {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range form {
		for _, v := range vs {
			if err := mw.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return g.do(t, ctx, http.MethodPost, path, &buf, mw.FormDataContentType(), nil)
}

// sendJSON sends v as a JSON body.
func (g *gateway) sendJSON(t testing.TB, ctx context.Context, method, path string, v any) *http.Response {
	t.Helper()
	var body io.Reader
	ct := ""
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	return g.do(t, ctx, method, path, body, ct, nil)
}

func (g *gateway) get(t testing.TB, ctx context.Context, path string) *http.Response {
	t.Helper()
	return g.do(t, ctx, http.MethodGet, path, nil, "", nil)
}

// readAll reads and closes the body.
func readAll(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return b
}

// expectStatus reads the body and fails unless the status is want.
func expectStatus(t testing.TB, resp *http.Response, want int) []byte {
	t.Helper()
	b := readAll(t, resp)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, b)
	}
	return b
}

// decode unmarshals b into v.
func decode(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// expectDetail checks an error answer: the status, a JSON content type and
// a non-empty {"detail": ...}; it returns the decoded body.
func expectDetail(t testing.TB, resp *http.Response, want int) map[string]any {
	t.Helper()
	b := expectStatus(t, resp, want)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json; body %s", resp.Request.URL.Path, ct, b)
	}
	var body map[string]any
	decode(t, b, &body)
	if d, _ := body["detail"].(string); strings.TrimSpace(d) == "" {
		t.Errorf("%s: error body without a detail: %s", resp.Request.URL.Path, b)
	}
	return body
}

// run is the part of a stored run the tests look at.
type run struct {
	RunID      string `json:"run_id"`
	SessionID  string `json:"session_id"`
	AgentID    string `json:"agent_id"`
	Status     string `json:"status"`
	Content    string `json:"content"`
	Error      string `json:"error"`
	ErrorType  string `json:"error_type"`
	EventCount int64  `json:"event_count"`
	Background bool   `json:"background"`
}

func (g *gateway) getRun(t testing.TB, ctx context.Context, agent, runID string) (run, []byte) {
	t.Helper()
	b := expectStatus(t, g.get(t, ctx, "/agents/"+agent+"/runs/"+runID), http.StatusOK)
	var r run
	decode(t, b, &r)
	return r, b
}

// waitStatus polls GET .../runs/{run_id} until the status is want, and
// fails at once if the run reaches another final status.
func (g *gateway) waitStatus(t testing.TB, agent, runID, want string) (run, []byte) {
	t.Helper()
	ctx := testCtx(t, 20*time.Second)
	delay := 5 * time.Millisecond
	for {
		r, b := g.getRun(t, ctx, agent, runID)
		if r.Status == want {
			return r, b
		}
		switch r.Status {
		case "COMPLETED", "CANCELLED", "ERROR":
			t.Fatalf("run %s ended %s, want %s: %s", runID, r.Status, want, b)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("run %s still %s, want %s: %s", runID, r.Status, want, b)
		case <-time.After(delay):
		}
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

// SSE --------------------------------------------------------------------

// frame is one SSE frame as received.
type frame struct {
	Raw   string // the frame's lines, each ending in \n, plus the blank line
	ID    string
	Event string
	Data  string
}

// event is the part of an event's JSON the tests look at.
type event struct {
	Event      string            `json:"event"`
	EventIndex int64             `json:"event_index"`
	RunID      string            `json:"run_id"`
	SessionID  string            `json:"session_id"`
	Content    string            `json:"content"`
	Reason     string            `json:"reason"`
	ErrorType  string            `json:"error_type"`
	Tool       *json.RawMessage  `json:"tool"`
	Tools      []json.RawMessage `json:"tools"`
}

// decodeEvent decodes the frame's data and checks it against id and event.
func (f frame) decodeEvent(t testing.TB) event {
	t.Helper()
	var ev event
	decode(t, []byte(f.Data), &ev)
	if strconv.FormatInt(ev.EventIndex, 10) != f.ID {
		t.Errorf("frame id %q but event_index %d", f.ID, ev.EventIndex)
	}
	if ev.Event != f.Event {
		t.Errorf("frame event %q but data event %q", f.Event, ev.Event)
	}
	return ev
}

// sseReader reads SSE frames; comment frames (heartbeats) are skipped.
type sseReader struct {
	r *bufio.Reader
}

func newSSEReader(r io.Reader) *sseReader { return &sseReader{r: bufio.NewReaderSize(r, 64<<10)} }

// Next returns the next frame, io.EOF at a clean end, or
// io.ErrUnexpectedEOF if the stream ends in the middle of a frame.
func (s *sseReader) Next() (frame, error) {
	var f frame
	var raw strings.Builder
	lines := 0
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				if lines == 0 && line == "" {
					return f, io.EOF
				}
				return f, io.ErrUnexpectedEOF
			}
			return f, err
		}
		text := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if text == "" {
			if lines == 0 {
				continue
			}
			raw.WriteString("\n")
			f.Raw = raw.String()
			if f.Event == "" && f.Data == "" && f.ID == "" {
				// a comment-only frame (heartbeat)
				raw.Reset()
				lines = 0
				f = frame{}
				continue
			}
			return f, nil
		}
		lines++
		if strings.HasPrefix(text, ":") {
			continue // comment lines are not part of the frame
		}
		raw.WriteString(line)
		name, value, _ := strings.Cut(text, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "id":
			f.ID = value
		case "event":
			f.Event = value
		case "data":
			if f.Data != "" {
				f.Data += "\n"
			}
			f.Data += value
		}
	}
}

// readFrames reads frames until the end of the stream. The stream must end
// cleanly (not in the middle of a frame).
func readFrames(t testing.TB, r io.Reader) []frame {
	t.Helper()
	sr := newSSEReader(r)
	var out []frame
	for {
		f, err := sr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("SSE stream failed after %d frames: %v", len(out), err)
		}
		out = append(out, f)
	}
}

// expectSSE checks a streaming answer's status and content type.
func expectSSE(t testing.TB, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		b := readAll(t, resp)
		t.Fatalf("%s %s: status %d, want 200 (SSE); body: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("%s: Content-Type %q, want text/event-stream", resp.Request.URL.Path, ct)
	}
}

// events decodes frames and checks that indices run from first, by one.
func events(t testing.TB, frames []frame, first int64) []event {
	t.Helper()
	evs := make([]event, 0, len(frames))
	for i, f := range frames {
		ev := f.decodeEvent(t)
		if want := first + int64(i); ev.EventIndex != want {
			t.Fatalf("frame %d has event_index %d, want %d (gap or duplicate); types: %v", i, ev.EventIndex, want, types(frames))
		}
		evs = append(evs, ev)
	}
	return evs
}

func types(frames []frame) []string {
	out := make([]string, len(frames))
	for i, f := range frames {
		out[i] = f.ID + ":" + f.Event
	}
	return out
}

// Normalisation and golden files -------------------------------------------

var (
	idFieldRE   = regexp.MustCompile(`"(run_id|session_id|error_id)":\s*"([^"]+)"`)
	toolMetrics = regexp.MustCompile(`"metrics":\s*\{\s*"start_time"[^}]*\}`)
	tsFieldRE   = regexp.MustCompile(`"(created_at|updated_at)":(\s*)\d+`)
	durFieldRE  = regexp.MustCompile(`"(time_to_first_token|duration|search_time_ms)":(\s*)[-+0-9.eE]+`)
	rfc3339RE   = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})`)
)

// normalize replaces the values that differ between runs by placeholders:
// ids (each distinct run id, session id and error id gets its own numbered
// placeholder, so "same id" stays visible), timestamps, durations, tool
// metrics and current_time results.
func normalize(b []byte) string {
	s := string(b)
	seen := map[string]string{}
	count := map[string]int{}
	for _, m := range idFieldRE.FindAllStringSubmatch(s, -1) {
		field, val := m[1], m[2]
		if _, ok := seen[val]; ok {
			continue
		}
		count[field]++
		name := strings.ToUpper(field)
		if count[field] > 1 {
			name += "_" + strconv.Itoa(count[field])
		}
		seen[val] = "<" + name + ">"
	}
	for val, ph := range seen {
		s = strings.ReplaceAll(s, val, ph)
	}
	s = toolMetrics.ReplaceAllString(s, `"metrics":<TOOL_METRICS>`)
	s = tsFieldRE.ReplaceAllString(s, `"$1":$2<TS>`)
	s = durFieldRE.ReplaceAllString(s, `"$1":$2<DURATION>`)
	s = rfc3339RE.ReplaceAllString(s, `<CURRENT_TIME>`)
	return s
}

// normalizeJSON indents a JSON body (key order kept) and normalises it.
func normalizeJSON(t testing.TB, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(b), "", "  "); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	buf.WriteByte('\n')
	return normalize(buf.Bytes())
}

// golden compares got with testdata/NAME.golden (rewritten with -update).
func golden(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n%s", path, testutil.LineDiff(string(want), got))
	}
}

// words returns a reply of n numbered words ("w01 w02 …"): the scripted
// model splits a reply at word boundaries, so n words give n chunks.
func words(n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = fmt.Sprintf("w%02d", i+1)
	}
	return strings.Join(ws, " ")
}
