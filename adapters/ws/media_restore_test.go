package ws_test

// The race of issue #21 through the WebSocket interface: the bytes a
// `start` frame's medium stored are deleted (a deleted session's orphan
// delete) between the upload and the run's record of them; the run stores
// them again from the upload's kept spool and reads them. And a refused
// start leaves the media store as it was.

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/agentgate/agentgate/adapters/ws"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/media"
	"github.com/agentgate/agentgate/core/media/mediatest"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

type wsEnv struct {
	eng   *core.Engine
	store *mediatest.DeleteAfterPut
	dir   string
	agent *mediatest.ReadAgent
	url   string
}

func newWSEnv(t *testing.T) *wsEnv {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "media")
	ds, err := media.NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	hs := &mediatest.DeleteAfterPut{Store: ds}
	ag := &mediatest.ReadAgent{}
	eng := enginetest.New(t, enginetest.Options{Engine: core.EngineConfig{Media: hs}, SessionMedia: true}, ag).Engine
	app := fiber.New()
	ws.Register(app, eng, ws.Config{Media: &media.Resolver{Store: hs, Limits: media.Limits{TempDir: t.TempDir()}}})
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	return &wsEnv{eng: eng, store: hs, dir: dir, agent: ag, url: "ws://" + ln.Addr().String() + ws.Path}
}

func (e *wsEnv) dial(t *testing.T) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(e.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// frame reads frames until one whose event (or type) is one of want.
func frame(t *testing.T, c *websocket.Conn, want ...string) map[string]any {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v (waiting for %v)", err, want)
		}
		var f map[string]any
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("frame %s: %v", b, err)
		}
		ev, _ := f["event"].(string)
		if slices.Contains(want, ev) {
			return f
		}
	}
}

func mediaFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			out = append(out, filepath.Base(p))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func doc(name, content string) map[string]any {
	return map[string]any{"content": base64.StdEncoding.EncodeToString([]byte(content)), "mime_type": "text/plain", "filename": name}
}

// TestWSStartRestoresDeletedMedia: the medium's bytes are deleted right
// after the start frame's upload stored them; the run still reads them.
func TestWSStartRestoresDeletedMedia(t *testing.T) {
	e := newWSEnv(t)
	const notes = "notes deleted under the run's feet"
	e.store.Arm()
	c := e.dial(t)
	if err := c.WriteJSON(map[string]any{"action": "start", "id": 1, "agent_id": "reader", "message": "read", "session_id": "s-ws",
		"files": []any{doc("notes.txt", notes)}}); err != nil {
		t.Fatal(err)
	}
	f := frame(t, c, "RunCompleted", "RunError", "error")
	if f["event"] != "RunCompleted" {
		t.Fatalf("the run did not complete: %v", f)
	}
	if len(e.store.Deleted()) != 1 {
		t.Fatal("the hook did not delete the medium after its upload")
	}
	got := e.agent.Got()
	if len(got) != 1 || got[0] != notes {
		t.Fatalf("the run read %q, want its medium's bytes", got)
	}
	if n := len(mediaFiles(t, e.dir)); n != 1 {
		t.Fatalf("the media dir holds %d files, want the restored medium", n)
	}
}

// TestWSRefusedStartStoresNothing: a start frame refused after some of its
// media were stored (its third medium lies about its type, or it names a
// runnable that does not exist) leaves the media dir as it was; a medium
// another session carries stays.
func TestWSRefusedStartStoresNothing(t *testing.T) {
	e := newWSEnv(t)
	c := e.dial(t)
	const shared = "notes the kept session carries"
	if err := c.WriteJSON(map[string]any{"action": "start", "id": 1, "agent_id": "reader", "message": "keep", "session_id": "s-keep",
		"files": []any{doc("shared.txt", shared)}}); err != nil {
		t.Fatal(err)
	}
	if f := frame(t, c, "RunCompleted", "RunError", "error"); f["event"] != "RunCompleted" {
		t.Fatalf("the kept run: %v", f)
	}
	before := mediaFiles(t, e.dir)
	for i, start := range []map[string]any{
		// The third medium lies about its type: refused at the upload.
		{"agent_id": "reader", "files": []any{doc("a.txt", "a fresh note"), doc("shared.txt", shared),
			map[string]any{"content": base64.StdEncoding.EncodeToString([]byte("not a PNG at all")), "mime_type": "image/png", "filename": "fake.png"}}},
		// All media stored, then the run is refused by the engine.
		{"agent_id": "nobody", "files": []any{doc("b.txt", "another fresh note"), doc("shared.txt", shared)}},
	} {
		start["action"], start["id"], start["message"], start["session_id"] = "start", 10+i, "refused", "s-new"
		if err := c.WriteJSON(start); err != nil {
			t.Fatal(err)
		}
		if f := frame(t, c, "error", "RunCompleted"); f["event"] != "error" {
			t.Fatalf("case %d: want an error frame, got %v", i, f)
		}
		if after := mediaFiles(t, e.dir); !slices.Equal(after, before) {
			t.Errorf("case %d: the media dir holds %v after the refused start, %v before", i, after, before)
		}
	}
	b, err := core.ReadMedia(t.Context(), e.store, strings.TrimSpace(before[0]), 1<<10)
	if err != nil || string(b) != shared {
		t.Fatalf("the kept session's medium: %q, %v", b, err)
	}
}
