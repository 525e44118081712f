package a2a_test

// The race of issue #21 through A2A: the bytes a message's file part
// stored are deleted (a deleted session's orphan delete) between the
// upload and the run's record of them; the task's run stores them again
// from the upload's kept spool and reads them. And a refused message
// leaves the media store as it was.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/adapters/a2a"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/media"
	"github.com/agentgate/agentgate/core/media/mediatest"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
	"github.com/agentgate/agentgate/transport/httptransport"
)

type a2aEnv struct {
	store *mediatest.DeleteAfterPut
	dir   string
	agent *mediatest.ReadAgent
	base  string
}

func newA2AEnv(t *testing.T) *a2aEnv {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "media")
	ds, err := media.NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	hs := &mediatest.DeleteAfterPut{Store: ds}
	ag := &mediatest.ReadAgent{}
	eng := enginetest.New(t, enginetest.Options{Engine: core.EngineConfig{Media: hs}, SessionMedia: true}, ag).Engine
	srv := httptransport.New(httptransport.Config{})
	h := a2a.Register(srv, eng, a2a.Config{Media: &media.Resolver{Store: hs, Limits: media.Limits{TempDir: t.TempDir()}}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.App.Shutdown()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Close(ctx)
	})
	return &a2aEnv{store: hs, dir: dir, agent: ag, base: "http://" + ln.Addr().String()}
}

type rpcAnswer struct {
	Result json.RawMessage
	Error  *struct {
		Code    int
		Message string
	}
}

// call posts a JSON-RPC request (A2A 1.0 for PascalCase methods, 0.3 for
// slash ones) to the reader agent.
func (e *a2aEnv) call(t *testing.T, method string, params any) rpcAnswer {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.base+"/a2a/agents/reader", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("A2A-Version", "1.0")
	if strings.Contains(method, "/") {
		req.Header.Set("A2A-Version", "0.3")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out rpcAnswer
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: not JSON-RPC (%d): %s", method, resp.StatusCode, b)
	}
	return out
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// v1Message is a v1.0 blocking SendMessage of a text and file parts.
func v1Message(id, contextID string, files ...map[string]any) map[string]any {
	parts := []any{map[string]any{"text": "read it"}}
	for _, f := range files {
		parts = append(parts, f)
	}
	return map[string]any{"message": map[string]any{"messageId": id, "role": "ROLE_USER", "contextId": contextID, "parts": parts},
		"configuration": map[string]any{"blocking": true}}
}

func v1File(name, mt, content string) map[string]any {
	return map[string]any{"raw": b64(content), "mediaType": mt, "filename": name}
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

// TestA2AFilePartRestoredAfterDelete: the file part's bytes are deleted
// right after the upload stored them; the task's run still reads them.
func TestA2AFilePartRestoredAfterDelete(t *testing.T) {
	e := newA2AEnv(t)
	const notes = "notes deleted under the task's feet"
	e.store.Arm()
	out := e.call(t, "SendMessage", v1Message("m-restore", "s-a2a", v1File("notes.txt", "text/plain", notes)))
	if out.Error != nil {
		t.Fatalf("SendMessage: %+v", out.Error)
	}
	if !strings.Contains(string(out.Result), "TASK_STATE_COMPLETED") {
		t.Fatalf("the task did not complete: %s", out.Result)
	}
	if len(e.store.Deleted()) != 1 {
		t.Fatal("the hook did not delete the medium after its upload")
	}
	got := e.agent.Got()
	if len(got) != 1 || got[0] != notes {
		t.Fatalf("the run read %q, want its file part's bytes", got)
	}
	if n := len(mediaFiles(t, e.dir)); n != 1 {
		t.Fatalf("the media dir holds %d files, want the restored medium", n)
	}
}

// TestA2ARefusedMessageStoresNothing: a message refused after some of its
// file parts were stored (its third part lies about its type), in both
// protocol versions, leaves the media dir as it was; a medium another
// session carries stays.
func TestA2ARefusedMessageStoresNothing(t *testing.T) {
	e := newA2AEnv(t)
	const shared = "notes the kept session carries"
	if out := e.call(t, "SendMessage", v1Message("m-keep", "s-keep", v1File("shared.txt", "text/plain", shared))); out.Error != nil {
		t.Fatalf("the kept message: %+v", out.Error)
	}
	before := mediaFiles(t, e.dir)
	if len(before) != 1 {
		t.Fatalf("the media dir holds %v, want the one medium", before)
	}
	v1 := v1Message("m-v1", "s-new", v1File("a.txt", "text/plain", "a fresh note"), v1File("shared.txt", "text/plain", shared),
		v1File("fake.png", "image/png", "not a PNG at all"))
	v03file := func(name, mt, content string) map[string]any {
		return map[string]any{"kind": "file", "file": map[string]any{"name": name, "mimeType": mt, "bytes": b64(content)}}
	}
	v03 := map[string]any{"message": map[string]any{"messageId": "m-v03", "role": "user", "kind": "message", "contextId": "s-new",
		"parts": []any{map[string]any{"kind": "text", "text": "read it"}, v03file("b.txt", "text/plain", "another fresh note"),
			v03file("shared.txt", "text/plain", shared), v03file("fake.png", "image/png", "not a PNG either")}}}
	for _, c := range []struct {
		method string
		params any
	}{{"SendMessage", v1}, {"message/send", v03}, {"SendStreamingMessage", v1}} {
		out := e.call(t, c.method, c.params)
		if out.Error == nil || !strings.Contains(out.Error.Message, "PNG") {
			t.Fatalf("%s: want an error naming the lying part, got %+v %s", c.method, out.Error, out.Result)
		}
		if after := mediaFiles(t, e.dir); !slices.Equal(after, before) {
			t.Errorf("%s: the media dir holds %v after the refused message, %v before", c.method, after, before)
		}
	}
	b, err := core.ReadMedia(t.Context(), e.store, before[0], 1<<10)
	if err != nil || string(b) != shared {
		t.Fatalf("the kept session's medium: %q, %v", b, err)
	}
}
