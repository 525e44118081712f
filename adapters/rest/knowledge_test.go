package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/knowledge"
	"github.com/agentgate/agentgate/core/knowledge/chunk"
	"github.com/agentgate/agentgate/core/knowledge/reader"
	"github.com/agentgate/agentgate/internal/fakeembed"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
	"github.com/agentgate/agentgate/storage/sqlite"
	"github.com/agentgate/agentgate/transport/httptransport"
)

type memBlobs struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (b *memBlobs) PutBlob(_ context.Context, k string, d []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[k] = d
	return nil
}
func (b *memBlobs) GetBlob(_ context.Context, k string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d, ok := b.m[k]; ok {
		return d, nil
	}
	return nil, core.ErrNotFound
}
func (b *memBlobs) DeleteBlob(_ context.Context, k string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, k)
	return nil
}

type vecEmbedder struct{}

func (vecEmbedder) ID() string      { return "fake" }
func (vecEmbedder) Dimensions() int { return 32 }
func (vecEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = fakeembed.Vector(t, 32)
	}
	return out, nil
}

// knowledgeServer serves the REST adapter (jwt mode) with two bases on
// SQLite: docs (an embedder, 2 KiB uploads) and plain (keyword only).
func knowledgeServer(t *testing.T) string {
	t.Helper()
	st, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc, err := knowledge.NewService(knowledge.ServiceConfig{Store: st, Blobs: &memBlobs{m: map[string][]byte{}},
		Readers: reader.Default(reader.Limits{}), Chunkers: chunk.Default(),
		Bases: []knowledge.Base{{ID: "docs", Name: "Docs", Embedder: vecEmbedder{}, ChunkSize: 120, MaxUploadSize: 2048}, {ID: "plain"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Wait)
	env := enginetest.New(t, enginetest.Options{})
	a, err := auth.New(auth.Config{Mode: auth.ModeJWT, JWT: auth.JWTConfig{Algorithm: auth.AlgHS256, Key: authzTestSecret}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptransport.New(httptransport.Config{Auth: a})
	pol := auth.NewPolicy()
	Register(srv, env.Engine, Config{Policy: pol, Knowledge: svc})
	if err := pol.CheckCoverage(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String()
}

// upload posts a multipart form (fields, and a file when name is set).
func (c *client) upload(path string, fields map[string]string, fileName, fileType string, data []byte) (int, []byte) {
	c.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	if fileName != "" {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="`+fileName+`"`)
		if fileType != "" {
			h.Set("Content-Type", fileType)
		}
		p, _ := w.CreatePart(h)
		p.Write(data)
	}
	w.Close()
	return c.send(http.MethodPost, path, w.FormDataContentType(), &buf)
}

func (c *client) send(method, path, ctype string, body io.Reader) (int, []byte) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+c.tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (c *client) waitStatus(id, want string) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, b := c.send(http.MethodGet, "/knowledge/content/"+id+"/status", "", nil)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		if st == http.StatusOK && m["status"] == want {
			return m
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("content %s: %d %s, want %s", id, st, b, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const restGuide = "# Birds\n\nRobins sing at dawn in the garden.\n\n## Winter\n\nFeed finches sunflower seeds when it snows.\n"

func TestKnowledgeRoutes(t *testing.T) {
	base := knowledgeServer(t)
	c := newClient(t, base, "knowledge:read", "knowledge:write", "knowledge:delete")

	st, b := c.upload("/knowledge/content?knowledge_id=docs", map[string]string{"name": "Birds", "metadata": `{"kind":"guide"}`}, "birds.md", "text/markdown", []byte(restGuide))
	if st != http.StatusAccepted {
		t.Fatalf("upload: %d %s", st, b)
	}
	var up map[string]any
	decodeInto(t, b, &up)
	if up["status"] != "processing" || up["name"] != "Birds" || up["size"] != strconv.Itoa(len(restGuide)) || up["id"] == "" {
		t.Fatalf("upload answer %s", b)
	}
	id := up["id"].(string)
	c.waitStatus(id, "completed")

	// Text and a form without a file.
	st, b = c.upload("/knowledge/content?knowledge_id=docs", map[string]string{"text_content": "Owls hunt mice at night."}, "", "", nil)
	if st != http.StatusAccepted {
		t.Fatalf("text: %d %s", st, b)
	}
	var txt map[string]any
	decodeInto(t, b, &txt)
	c.waitStatus(txt["id"].(string), "completed")

	for _, stype := range []string{"keyword", "vector", "hybrid"} {
		body := `{"query":"finches sunflower seeds","knowledge_id":"docs","search_type":"` + stype + `","max_results":5,"meta":{"limit":1,"page":1}}`
		st, b = c.send(http.MethodPost, "/knowledge/search", "application/json", strings.NewReader(body))
		if st != http.StatusOK {
			t.Fatalf("%s: %d %s", stype, st, b)
		}
		var page struct {
			Data []map[string]any `json:"data"`
			Meta map[string]any   `json:"meta"`
		}
		decodeInto(t, b, &page)
		if len(page.Data) != 1 || !strings.Contains(page.Data[0]["content"].(string), "finches") || page.Data[0]["content_id"] != id {
			t.Fatalf("%s: %s", stype, b)
		}
		for _, k := range []string{"id", "content", "name", "meta_data", "reranking_score", "content_id", "content_origin", "size"} {
			if _, ok := page.Data[0][k]; !ok {
				t.Fatalf("%s: result without %s: %s", stype, k, b)
			}
		}
		if page.Meta["limit"] != 1.0 || page.Meta["total_count"].(float64) < 1 {
			t.Fatalf("%s: meta %v", stype, page.Meta)
		}
	}

	// AgentOS's filter expression (agno's filters): AND, OR, NOT over the
	// content's metadata ({"kind":"guide"}; the text content has none).
	for _, fc := range []struct {
		name, filter string
		birds, owls  bool
	}{
		{"AND", `{"op":"AND","conditions":[{"op":"EQ","key":"kind","value":"guide"}]}`, true, false},
		{"OR", `{"op":"OR","conditions":[{"op":"EQ","key":"kind","value":"field"},{"op":"STARTSWITH","key":"kind","value":"GUI"}]}`, true, false},
		{"NOT", `{"op":"NOT","condition":{"op":"EQ","key":"kind","value":"guide"}}`, false, true},
		{"NOT IN", `{"op":"NOT","condition":{"op":"IN","key":"kind","values":["field","guide"]}}`, false, true},
		{"OR of NOT", `{"op":"OR","conditions":[{"op":"NOT","condition":{"op":"CONTAINS","key":"kind","value":"uid"}},{"op":"GT","key":"kind","value":"z"}]}`, false, true},
		{"NEQ", `{"op":"NEQ","key":"kind","value":"field"}`, true, false},
	} {
		st, b = c.send(http.MethodPost, "/knowledge/search", "application/json", strings.NewReader(
			`{"query":"owls finches","knowledge_id":"docs","search_type":"keyword","filters":`+fc.filter+`}`))
		if st != http.StatusOK || strings.Contains(string(b), `"content_id":"`+id+`"`) != fc.birds || strings.Contains(string(b), "Owls hunt") != fc.owls {
			t.Fatalf("filter %s: %d %s", fc.name, st, b)
		}
	}
	// The same file again: the same content.
	st, b = c.upload("/knowledge/content?knowledge_id=docs", nil, "again.md", "text/markdown", []byte(restGuide))
	var again map[string]any
	decodeInto(t, b, &again)
	if st != http.StatusAccepted || again["id"] != id {
		t.Fatalf("re-upload: %d %s", st, b)
	}

	st, b = c.send(http.MethodGet, "/knowledge/content?knowledge_id=docs&limit=1", "", nil)
	var list ContentPage
	decodeInto(t, b, &list)
	if st != http.StatusOK || len(list.Data) != 1 || list.Meta.TotalCount != 2 || list.Meta.TotalPages != 2 {
		t.Fatalf("list: %d %s", st, b)
	}

	st, b = c.send(http.MethodPatch, "/knowledge/content/"+id+"?knowledge_id=docs", "application/x-www-form-urlencoded",
		strings.NewReader("name=Garden+birds&metadata=%7B%22kind%22%3A%22field%22%7D"))
	if st != http.StatusOK || !strings.Contains(string(b), `"Garden birds"`) || !strings.Contains(string(b), `"field"`) {
		t.Fatalf("patch: %d %s", st, b)
	}
	st, b = c.send(http.MethodGet, "/knowledge/content/"+id, "", nil)
	if st != http.StatusOK || !strings.Contains(string(b), `"created_at":"20`) {
		t.Fatalf("get: %d %s", st, b)
	}

	st, b = c.send(http.MethodGet, "/knowledge/config?knowledge_id=docs", "", nil)
	var cfg KnowledgeConfigResponse
	decodeInto(t, b, &cfg)
	if st != http.StatusOK || cfg.Readers["pdf"].ID != "pdf" || cfg.Chunkers["markdown"].Key != "markdown" ||
		len(cfg.VectorDBs) != 1 || len(cfg.VectorDBs[0].SearchTypes) != 3 || len(cfg.ReadersForType) == 0 ||
		strings.Join(cfg.Filters, ",") != "kind" {
		t.Fatalf("config: %d %s", st, b)
	}
	st, b = c.send(http.MethodGet, "/knowledge/config?knowledge_id=plain", "", nil)
	decodeInto(t, b, &cfg)
	if st != http.StatusOK || strings.Join(cfg.VectorDBs[0].SearchTypes, ",") != "keyword" {
		t.Fatalf("config plain: %d %s", st, b)
	}

	st, b = c.send(http.MethodDelete, "/knowledge/content/"+id, "", nil)
	if st != http.StatusOK || !strings.Contains(string(b), id) {
		t.Fatalf("delete: %d %s", st, b)
	}
	if st, _ = c.send(http.MethodGet, "/knowledge/content/"+id, "", nil); st != http.StatusNotFound {
		t.Fatalf("deleted content: %d", st)
	}
	st, b = c.send(http.MethodDelete, "/knowledge/content?knowledge_id=docs", "", nil)
	if st != http.StatusOK || strings.TrimSpace(string(b)) != `"success"` {
		t.Fatalf("delete all: %d %s", st, b)
	}
}

func TestKnowledgeBadInput(t *testing.T) {
	base := knowledgeServer(t)
	c := newClient(t, base, "knowledge:read", "knowledge:write")
	cases := []struct {
		name   string
		status int
		msg    string
		do     func() (int, []byte)
	}{
		{"too large", http.StatusRequestEntityTooLarge, "max_upload_size", func() (int, []byte) {
			return c.upload("/knowledge/content?knowledge_id=docs", nil, "big.txt", "text/plain", bytes.Repeat([]byte("a"), 4000))
		}},
		{"unsupported", http.StatusUnsupportedMediaType, "application/x-msdownload", func() (int, []byte) {
			return c.upload("/knowledge/content?knowledge_id=docs", nil, "tool.exe", "application/x-msdownload", []byte("MZ"))
		}},
		{"unknown kb", http.StatusNotFound, `nope\" not found`, func() (int, []byte) {
			return c.upload("/knowledge/content?knowledge_id=nope", map[string]string{"text_content": "x"}, "", "", nil)
		}},
		{"unknown db", http.StatusNotFound, "database", func() (int, []byte) {
			return c.upload("/knowledge/content?db_id=nope", map[string]string{"text_content": "x"}, "", "", nil)
		}},
		{"nothing", http.StatusBadRequest, "exactly one", func() (int, []byte) {
			return c.upload("/knowledge/content", map[string]string{"name": "x"}, "", "", nil)
		}},
		{"bad chunk_size", http.StatusBadRequest, "chunk_size", func() (int, []byte) {
			return c.upload("/knowledge/content", map[string]string{"text_content": "x", "chunk_size": "big"}, "", "", nil)
		}},
		{"bad url list", http.StatusBadRequest, "url", func() (int, []byte) {
			return c.upload("/knowledge/content", map[string]string{"url": "[1,2"}, "", "", nil)
		}},
		{"malformed multipart", http.StatusBadRequest, "multipart", func() (int, []byte) {
			return c.send(http.MethodPost, "/knowledge/content", "multipart/form-data; boundary=xyz", strings.NewReader("--xyz\r\nbroken"))
		}},
		{"vector without embedder", http.StatusBadRequest, "needs an embedder", func() (int, []byte) {
			return c.send(http.MethodPost, "/knowledge/search", "application/json", strings.NewReader(`{"query":"x","knowledge_id":"plain","search_type":"vector"}`))
		}},
		{"search unknown kb", http.StatusNotFound, `zz\" not found`, func() (int, []byte) {
			return c.send(http.MethodPost, "/knowledge/search", "application/json", strings.NewReader(`{"query":"x","knowledge_id":"zz"}`))
		}},
		{"search type", http.StatusUnprocessableEntity, "search_type", func() (int, []byte) {
			return c.send(http.MethodPost, "/knowledge/search", "application/json", strings.NewReader(`{"query":"x","search_type":"fuzzy"}`))
		}},
		{"vector db ids", http.StatusBadRequest, "vector_db_ids", func() (int, []byte) {
			return c.send(http.MethodPost, "/knowledge/search", "application/json", strings.NewReader(`{"query":"x","vector_db_ids":["other"]}`))
		}},
		{"filter operator", http.StatusBadRequest, `filters: unknown operator \"LIKE\"`, func() (int, []byte) {
			return c.send(http.MethodPost, "/knowledge/search", "application/json", strings.NewReader(`{"query":"x","filters":{"op":"OR","conditions":[{"op":"LIKE","key":"k","value":"%"}]}}`))
		}},
		{"filter value", http.StatusBadRequest, `filters: GT \"n\" compares a number or a string, not a boolean`, func() (int, []byte) {
			return c.send(http.MethodPost, "/knowledge/search", "application/json", strings.NewReader(`{"query":"x","filters":{"op":"GT","key":"n","value":true}}`))
		}},
		{"filter NOT", http.StatusBadRequest, "filters: NOT needs a condition", func() (int, []byte) {
			return c.send(http.MethodPost, "/knowledge/search", "application/json", strings.NewReader(`{"query":"x","filters":{"op":"NOT","conditions":[]}}`))
		}},
		{"filter IN", http.StatusBadRequest, `filters: IN \"k\" values must be a list`, func() (int, []byte) {
			return c.send(http.MethodPost, "/knowledge/search", "application/json", strings.NewReader(`{"query":"x","filters":{"op":"IN","key":"k","values":"a"}}`))
		}},
		{"filter dict value", http.StatusBadRequest, `filters: \"k\": a value must be a string, a number or a boolean (got an object)`, func() (int, []byte) {
			return c.send(http.MethodPost, "/knowledge/search", "application/json", strings.NewReader(`{"query":"x","filters":{"k":{"a":1}}}`))
		}},
		{"list unknown kb", http.StatusNotFound, `nope\" not found`, func() (int, []byte) {
			return c.send(http.MethodGet, "/knowledge/content?knowledge_id=nope", "", nil)
		}},
		{"content of another kb", http.StatusNotFound, "not found", func() (int, []byte) {
			return c.send(http.MethodGet, "/knowledge/content/x?knowledge_id=nope", "", nil)
		}},
		{"unknown content", http.StatusNotFound, "not found", func() (int, []byte) {
			return c.send(http.MethodGet, "/knowledge/content/nope/status", "", nil)
		}},
		{"delete needs the delete scope", http.StatusForbidden, "knowledge", func() (int, []byte) {
			return c.send(http.MethodDelete, "/knowledge/content", "", nil)
		}},
	}
	for _, tc := range cases {
		st, b := tc.do()
		if st != tc.status || !strings.Contains(string(b), tc.msg) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, st, b, tc.status, tc.msg)
		}
	}
	reader := newClient(t, base, "knowledge:read")
	if st, b := reader.upload("/knowledge/content", map[string]string{"text_content": "x"}, "", "", nil); st != http.StatusForbidden {
		t.Fatalf("upload with knowledge:read: %d %s", st, b)
	}
}

func TestKnowledgeWithoutBases(t *testing.T) {
	env := enginetest.New(t, enginetest.Options{})
	srv := httptransport.New(httptransport.Config{})
	Register(srv, env.Engine, Config{})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = srv.Serve(ln) }()
	defer srv.Shutdown(context.Background())
	resp, err := http.Post("http://"+ln.Addr().String()+"/knowledge/search", "application/json", strings.NewReader(`{"query":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "no knowledge base") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

func FuzzParseContentForm(f *testing.F) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.SetBoundary("b0undary")
	_ = w.WriteField("name", "n")
	fw, _ := w.CreateFormFile("file", "a.md")
	fw.Write([]byte("# hi"))
	w.Close()
	f.Add("multipart/form-data; boundary=b0undary", buf.Bytes())
	f.Add("application/x-www-form-urlencoded", []byte("text_content=hi&url=%5B%22http%3A%2F%2Fa%22%5D"))
	f.Add("application/json", []byte(`{"url":["http://a"],"chunk_size":3}`))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		form, up, err := ParseContentForm(ct, body, 1024)
		if err != nil {
			if c := core.CodeOf(err); c != core.CodeInvalid && c != core.CodeTooLarge {
				t.Fatalf("error of code %s: %v", c, err)
			}
			return
		}
		if up != nil && len(up.Data) > 1024 {
			t.Fatalf("a file of %d bytes passed a bound of 1024", len(up.Data))
		}
		_, _ = addRequest("kb", form, up)
	})
}

// TestKnowledgeAccessCount: a content's access_count is the number of
// searches whose answered page held its chunks.
func TestKnowledgeAccessCount(t *testing.T) {
	base := knowledgeServer(t)
	c := newClient(t, base, "knowledge:read", "knowledge:write")
	add := func(text string) string {
		t.Helper()
		st, b := c.upload("/knowledge/content?knowledge_id=docs", map[string]string{"text_content": text}, "", "", nil)
		if st != http.StatusAccepted {
			t.Fatalf("upload: %d %s", st, b)
		}
		var up map[string]any
		decodeInto(t, b, &up)
		c.waitStatus(up["id"].(string), "completed")
		return up["id"].(string)
	}
	otters, herons := add("Otters hold hands while they sleep."), add("Herons stand still in shallow water.")
	count := func(id string) float64 {
		t.Helper()
		st, b := c.send(http.MethodGet, "/knowledge/content/"+id, "", nil)
		var got map[string]any
		decodeInto(t, b, &got)
		if st != http.StatusOK {
			t.Fatalf("get: %d %s", st, b)
		}
		return got["access_count"].(float64)
	}
	if count(otters) != 0 {
		t.Fatalf("a new content's access_count: %v", count(otters))
	}
	search := func(q string) {
		t.Helper()
		st, b := c.send(http.MethodPost, "/knowledge/search", "application/json", strings.NewReader(
			`{"query":"`+q+`","knowledge_id":"docs","search_type":"keyword"}`))
		if st != http.StatusOK {
			t.Fatalf("search: %d %s", st, b)
		}
	}
	search("otters sleep")
	search("otters hands")
	search("nothing matches zebras")
	if count(otters) != 2 || count(herons) != 0 {
		t.Fatalf("access counts otters %v herons %v, want 2 and 0", count(otters), count(herons))
	}
	search("otters herons")
	if count(otters) != 3 || count(herons) != 1 {
		t.Fatalf("access counts otters %v herons %v, want 3 and 1", count(otters), count(herons))
	}
}
