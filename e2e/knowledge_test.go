package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/agentgate/agentgate/internal/fakeembed"
)

// Knowledge through the binary, on SQLite and Postgres (pgvector): a
// Markdown file, a PDF and a URL uploaded (202), ingested on the durable
// queue (completed), found by keyword, vector and hybrid search through a
// deterministic fake embeddings server on the OpenAI wire format; a
// re-upload adds nothing; bad input answers the right status or fails the
// content with the reason.

// agno os/routers/knowledge/schemas.py ContentResponseSchema.
var contentShape = &shape{Name: "ContentResponseSchema", Source: "os/routers/knowledge/schemas.py", Fields: []field{
	opt("id", "string|null"), opt("name", "string|null"), opt("description", "string|null"), opt("type", "string|null"),
	opt("size", "string|null"), opt("linked_to", "string|null"), opt("metadata", "object|null"),
	opt("access_count", "integer|null"), opt("status", "string|null").enum("processing", "completed", "failed"),
	opt("status_message", "string|null"), opt("created_at", datetime+"|null"), opt("updated_at", datetime+"|null"),
}}

// ContentStatusResponse (and AgentOS's id).
var contentStatusShape = &shape{Name: "ContentStatusResponse", Source: "os/routers/knowledge/schemas.py", Fields: []field{
	req("status", "string").enum("processing", "completed", "failed"), opt("status_message", "string"), opt("id", "string"),
}}

// VectorSearchResult.
var searchResultShape = &shape{Name: "VectorSearchResult", Source: "os/routers/knowledge/schemas.py", Fields: []field{
	req("id", "string"), req("content", "string"), opt("name", "string|null"), opt("meta_data", "object|null"),
	opt("usage", "object|null"), opt("reranking_score", "number|null"), opt("content_id", "string|null"),
	opt("content_origin", "string|null"), opt("size", "integer|null"),
}}

var searchPageShape = &shape{Name: "PaginatedResponse[VectorSearchResult]", Source: "os/schema.py", Fields: []field{
	req("data", "array").of(searchResultShape), req("meta", "object").of(paginationShape),
}}

var contentPageShape = &shape{Name: "PaginatedResponse[ContentResponseSchema]", Source: "os/schema.py", Fields: []field{
	req("data", "array").of(contentShape), req("meta", "object").of(paginationShape),
}}

// knowledgeConfig is the gateway's config with the fake embedder at emb.
func knowledgeConfig(emb string) string {
	return `
models:
  plain:
    provider: scripted
    model: plain-1
    script:
      - reply: "ok"
agents:
  - id: helper
    model: plain
embedders:
  fake:
    base_url: ` + emb + `/v1
    api_key: test-key
    model: fake-embed
    dimensions: 64
    batch_size: 8
knowledge:
  - id: docs
    name: Docs
    description: The test corpus.
    embedder: fake
    chunker: recursive
    chunk_size: 400
    max_upload_size: 64KiB
    allow_private_urls: true
  - id: strict
    embedder: fake
  - id: bare
`
}

const kbMarkdown = `# Beekeeping

Honey bees build wax combs inside the hive.

## Swarming

A colony swarms in late spring when the queen leaves with half the workers.
`

func kbPDF(t *testing.T) []byte {
	t.Helper()
	p := fpdf.New("P", "mm", "A4", "")
	p.SetFont("Helvetica", "", 12)
	p.AddPage()
	p.MultiCell(0, 8, "Lighthouse keepers trimmed the lamp wicks every evening before sunset.", "", "L", false)
	var buf bytes.Buffer
	if err := p.Output(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// uploadFile posts a multipart form with fields and, when name is set, a
// file.
func (g *gateway) uploadFile(t testing.TB, ctx context.Context, path string, fields map[string]string, name, ctype string, data []byte) *http.Response {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if name != "" {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="`+name+`"`)
		h.Set("Content-Type", ctype)
		p, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		p.Write(data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return g.do(t, ctx, http.MethodPost, path, &buf, w.FormDataContentType(), nil)
}

// waitContent polls the content's status until it is want (or fails t
// when it settles on another or takes too long).
func (g *gateway) waitContent(t testing.TB, ctx context.Context, id, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		b := expectStatus(t, g.get(t, ctx, "/knowledge/content/"+id+"/status"), http.StatusOK)
		st := conform(t, "GET /knowledge/content/{id}/status", contentStatusShape, b)
		if st["status"] == want {
			return st
		}
		if st["status"] != "processing" || time.Now().After(deadline) {
			t.Fatalf("content %s: %s, want %s", id, b, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type kbHit struct {
	ID        string         `json:"id"`
	Content   string         `json:"content"`
	ContentID string         `json:"content_id"`
	Origin    string         `json:"content_origin"`
	Meta      map[string]any `json:"meta_data"`
	Score     float64        `json:"reranking_score"`
}

func (g *gateway) kbSearch(t testing.TB, ctx context.Context, body map[string]any, status int) ([]kbHit, []byte) {
	t.Helper()
	b := expectStatus(t, g.sendJSON(t, ctx, http.MethodPost, "/knowledge/search", body), status)
	if status != http.StatusOK {
		return nil, b
	}
	conform(t, "POST /knowledge/search", searchPageShape, b)
	var page struct {
		Data []kbHit `json:"data"`
	}
	decode(t, b, &page)
	return page.Data, b
}

func TestKnowledge(t *testing.T) {
	t.Parallel()
	fake := &fakeembed.Server{Dims: 64, APIKey: "test-key"}
	emb := httptest.NewServer(fake)
	t.Cleanup(emb.Close)
	pages := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/tides.html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, `<html><head><title>Tides</title></head><body><nav>menu</nav><article><h1>Tides</h1>
<p>Spring tides happen when the sun and the moon line up, twice a month, and have nothing to do with the season.</p>
<p>Neap tides come in between, when the pull of the sun partly cancels the moon's.</p></article></body></html>`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(pages.Close)
	cfg := knowledgeConfig(emb.URL)
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		checkKnowledge(t, startGateway(t, cfg), pages.URL)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		b := newBackends(t, "")
		checkKnowledge(t, startReplica(t, "pg", cfg, "AGENTGATE_DATABASE_URL="+b.DatabaseURL).gateway, pages.URL)
	})
}

func checkKnowledge(t *testing.T, g *gateway, pages string) {
	ctx := testCtx(t, 120*time.Second)
	const up = "/knowledge/content?knowledge_id=docs"
	// /config lists the knowledge domain (AgentOS's UI shows its page by it).
	osCfg := conform(t, "GET /config", configShape, expectStatus(t, g.get(t, ctx, "/config"), http.StatusOK))
	if k, _ := osCfg["knowledge"].(map[string]any); k == nil || len(k["dbs"].([]any)) != 1 ||
		k["dbs"].([]any)[0].(map[string]any)["db_id"] != osCfg["os_database"] {
		t.Errorf("/config knowledge = %v, want the state database", osCfg["knowledge"])
	}
	kc := expectStatus(t, g.get(t, ctx, "/knowledge/config?knowledge_id=docs"), http.StatusOK)
	var kcfg struct {
		Readers   map[string]any   `json:"readers"`
		Chunkers  map[string]any   `json:"chunkers"`
		VectorDBs []map[string]any `json:"vector_dbs"`
	}
	decode(t, kc, &kcfg)
	if kcfg.Readers["pdf"] == nil || kcfg.Chunkers["markdown"] == nil || len(kcfg.VectorDBs) != 1 || len(kcfg.VectorDBs[0]["search_types"].([]any)) != 3 {
		t.Errorf("/knowledge/config: %s", kc)
	}
	upload := func(fields map[string]string, name, ctype string, data []byte) map[string]any {
		t.Helper()
		b := expectStatus(t, g.uploadFile(t, ctx, up, fields, name, ctype, data), http.StatusAccepted)
		c := conform(t, "POST /knowledge/content", contentShape, b)
		if c["status"] != "processing" || c["id"] == "" {
			t.Fatalf("upload answered %s", b)
		}
		return c
	}
	md := upload(map[string]string{"metadata": `{"topic":"bees"}`, "description": "A bee guide"}, "bees.md", "text/markdown", []byte(kbMarkdown))
	pdf := upload(nil, "lighthouse.pdf", "application/pdf", kbPDF(t))
	url := upload(map[string]string{"url": pages + "/tides.html"}, "", "", nil)
	for _, c := range []map[string]any{md, pdf, url} {
		g.waitContent(t, ctx, c["id"].(string), "completed")
	}
	got := conform(t, "GET /knowledge/content/{id}", contentShape,
		expectStatus(t, g.get(t, ctx, "/knowledge/content/"+md["id"].(string)+"?knowledge_id=docs"), http.StatusOK))
	if got["name"] != "bees.md" || got["description"] != "A bee guide" || got["type"] != "text/markdown" {
		t.Fatalf("content %v", got)
	}

	// Each search type finds each content's chunk first.
	queries := []struct{ q, id, word string }{
		{"queen swarms late spring workers", md["id"].(string), "swarms"},
		{"lighthouse keepers lamp wicks", pdf["id"].(string), "wicks"},
		{"neap tides sun moon", url["id"].(string), "Neap"},
	}
	for _, st := range []string{"keyword", "vector", "hybrid"} {
		for _, q := range queries {
			hits, b := g.kbSearch(t, ctx, map[string]any{"query": q.q, "knowledge_id": "docs", "search_type": st, "max_results": 5}, http.StatusOK)
			if len(hits) == 0 || hits[0].ContentID != q.id || !strings.Contains(hits[0].Content, q.word) {
				t.Errorf("%s search %q: %s", st, q.q, b)
			}
		}
	}
	hits, _ := g.kbSearch(t, ctx, map[string]any{"query": "neap tides", "knowledge_id": "docs", "search_type": "keyword"}, http.StatusOK)
	if len(hits) == 0 || hits[0].Origin != pages+"/tides.html" {
		t.Errorf("url content's origin: %+v", hits)
	}
	// Filters match the metadata.
	hits, _ = g.kbSearch(t, ctx, map[string]any{"query": "tides bees lighthouse", "knowledge_id": "docs", "search_type": "hybrid",
		"filters": map[string]any{"topic": "bees"}}, http.StatusOK)
	for _, h := range hits {
		if h.ContentID != md["id"] {
			t.Errorf("filter topic=bees found %+v", h)
		}
	}

	// The same file again: the same content, no more chunks.
	again := conform(t, "POST /knowledge/content (again)", contentShape,
		expectStatus(t, g.uploadFile(t, ctx, up, nil, "bees-copy.md", "text/markdown", []byte(kbMarkdown)), http.StatusAccepted))
	if again["id"] != md["id"] || again["status"] != "completed" {
		t.Errorf("re-upload made content %v, want %v", again["id"], md["id"])
	}
	hits, _ = g.kbSearch(t, ctx, map[string]any{"query": "queen swarms", "knowledge_id": "docs", "search_type": "keyword", "max_results": 50}, http.StatusOK)
	n := 0
	for _, h := range hits {
		if strings.Contains(h.Content, "swarms") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d chunks say swarms after a re-upload, want 1", n)
	}
	list := conform(t, "GET /knowledge/content", contentPageShape, expectStatus(t, g.get(t, ctx, up+"&limit=2"), http.StatusOK))
	if meta := list["meta"].(map[string]any); meta["total_count"] != json.Number("3") || meta["total_pages"] != json.Number("2") {
		t.Errorf("list meta %v", meta)
	}

	// Bad input.
	detail := func(b []byte) string {
		var e struct {
			Detail string `json:"detail"`
		}
		decode(t, b, &e)
		return e.Detail
	}
	if d := detail(expectStatus(t, g.uploadFile(t, ctx, up, nil, "big.txt", "text/plain", bytes.Repeat([]byte("x "), 40<<10)), http.StatusRequestEntityTooLarge)); !strings.Contains(d, "max_upload_size") {
		t.Errorf("413: %s", d)
	}
	if d := detail(expectStatus(t, g.uploadFile(t, ctx, up, nil, "setup.exe", "application/x-msdownload", []byte("MZ")), http.StatusUnsupportedMediaType)); !strings.Contains(d, "application/x-msdownload") {
		t.Errorf("415: %s", d)
	}
	expectStatus(t, g.uploadFile(t, ctx, "/knowledge/content?knowledge_id=nope", map[string]string{"text_content": "x"}, "", "", nil), http.StatusNotFound)
	expectStatus(t, g.get(t, ctx, "/knowledge/content?knowledge_id=nope"), http.StatusNotFound)
	g.kbSearch(t, ctx, map[string]any{"query": "x", "knowledge_id": "nope"}, http.StatusNotFound)
	if _, b := g.kbSearch(t, ctx, map[string]any{"query": "x", "knowledge_id": "bare", "search_type": "vector"}, http.StatusBadRequest); !strings.Contains(detail(b), "embedder") {
		t.Errorf("vector search without an embedder: %s", b)
	}
	g.kbSearch(t, ctx, map[string]any{"query": "x", "knowledge_id": "bare"}, http.StatusOK) // keyword works
	failed := func(kb string, fields map[string]string, name, ctype string, data []byte, reason string) {
		t.Helper()
		b := expectStatus(t, g.uploadFile(t, ctx, "/knowledge/content?knowledge_id="+kb, fields, name, ctype, data), http.StatusAccepted)
		var c struct {
			ID string `json:"id"`
		}
		decode(t, b, &c)
		st := g.waitContent(t, ctx, c.ID, "failed")
		if msg, _ := st["status_message"].(string); !strings.Contains(msg, reason) {
			t.Errorf("%s: failed with %q, want %q in it", name+fields["url"], msg, reason)
		}
	}
	failed("docs", map[string]string{"url": pages + "/missing"}, "", "", nil, "404")
	failed("strict", map[string]string{"url": pages + "/tides.html"}, "", "", nil, "refused")
	failed("docs", nil, "broken.pdf", "application/pdf", []byte("%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage"), "malformed PDF")

	// Delete one; delete all.
	expectStatus(t, g.do(t, ctx, http.MethodDelete, "/knowledge/content/"+pdf["id"].(string), nil, "", nil), http.StatusOK)
	hits, _ = g.kbSearch(t, ctx, map[string]any{"query": "lighthouse wicks", "knowledge_id": "docs", "search_type": "keyword"}, http.StatusOK)
	if len(hits) != 0 {
		t.Errorf("a deleted content's chunks are found: %+v", hits)
	}
	expectStatus(t, g.do(t, ctx, http.MethodDelete, up, nil, "", nil), http.StatusOK)
	hits, _ = g.kbSearch(t, ctx, map[string]any{"query": "tides", "knowledge_id": "docs", "search_type": "hybrid"}, http.StatusOK)
	if len(hits) != 0 {
		t.Errorf("found after delete all: %+v", hits)
	}
}

// createContent uploads a fresh text content to the knowledge base kb as
// tok and returns its id.
func createContent(t testing.TB, g *gateway, tok, kb string) string {
	t.Helper()
	var c struct {
		ID string `json:"id"`
	}
	decode(t, want(t, g, tok, http.MethodPost, "/knowledge/content?knowledge_id="+kb,
		formBody(map[string][]string{"text_content": {"matrix content " + randHex(8)}}), http.StatusAccepted), &c)
	return c.ID
}

// TestKnowledgeReplicaKilledMidIngestion SIGKILLs the replica whose worker
// is embedding a content (a slow fake embedder): the ingestion job is
// rescued by the durable queue and completed by another replica, and the
// content's chunks are there once, not twice.
func TestKnowledgeReplicaKilledMidIngestion(t *testing.T) {
	t.Parallel()
	fake := &fakeembed.Server{Dims: 64, APIKey: "test-key", Delay: 1500 * time.Millisecond}
	emb := httptest.NewServer(fake)
	t.Cleanup(emb.Close)
	cfg := knowledgeConfig(emb.URL) + `
queue:
  rescue_after: 8s
tuning:
  queue_poll_interval: 100ms
`
	be := newBackends(t, "")
	a := startReplica(t, "A", cfg, be.Env()...)
	ctx := testCtx(t, 150*time.Second)
	b := expectStatus(t, a.uploadFile(t, ctx, "/knowledge/content?knowledge_id=docs", nil, "bees.md", "text/markdown", []byte(kbMarkdown)), http.StatusAccepted)
	var c struct {
		ID string `json:"id"`
	}
	decode(t, b, &c)
	// A's worker is embedding the content's chunks: kill it there.
	deadline := time.Now().Add(30 * time.Second)
	for fake.Requests() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("replica A never called the embedder:\n%s", tail(a.Logs(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.kill(t)
	if st := fake.Requests(); st != 1 {
		t.Fatalf("%d embedding requests before the kill, want 1 (one batch)", st)
	}
	bb := startReplica(t, "B", cfg, be.Env()...)
	// River rescues the job after queue.rescue_after (its rescuer runs
	// every 30 s): B then works it again.
	deadline = time.Now().Add(120 * time.Second)
	for {
		st := conform(t, "GET /knowledge/content/{id}/status", contentStatusShape,
			expectStatus(t, bb.get(t, ctx, "/knowledge/content/"+c.ID+"/status"), http.StatusOK))
		if st["status"] == "completed" {
			break
		}
		if st["status"] == "failed" || time.Now().After(deadline) {
			t.Fatalf("content after A's death: %v\nB's log:\n%s", st, tail(bb.Logs(), 4000))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if fake.Requests() < 2 {
		t.Fatalf("B completed the content without embedding it (%d requests)", fake.Requests())
	}
	hits, _ := bb.kbSearch(t, ctx, map[string]any{"query": "swarms queen", "knowledge_id": "docs", "search_type": "keyword", "max_results": 50}, http.StatusOK)
	n := 0
	for _, h := range hits {
		if h.ContentID == c.ID && strings.Contains(h.Content, "swarms") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d chunks say swarms after the rescue, want 1: %+v", n, hits)
	}
	hits, _ = bb.kbSearch(t, ctx, map[string]any{"query": "queen leaves with half the workers", "knowledge_id": "docs", "search_type": "vector"}, http.StatusOK)
	if len(hits) == 0 || hits[0].ContentID != c.ID {
		t.Fatalf("vector search after the rescue: %+v", hits)
	}
}
