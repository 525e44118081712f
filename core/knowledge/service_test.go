package knowledge_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/knowledge"
	"github.com/agentgate/agentgate/core/knowledge/chunk"
	"github.com/agentgate/agentgate/core/knowledge/reader"
	"github.com/agentgate/agentgate/internal/fakeembed"
	"github.com/agentgate/agentgate/storage/sqlite"
)

// blobs is an in-memory BlobStore (the store's own, where it has one, is
// tested by the storage conformance suite).
type blobs struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (b *blobs) PutBlob(_ context.Context, k string, d []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[k] = append([]byte{}, d...)
	return nil
}
func (b *blobs) GetBlob(_ context.Context, k string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.m[k]
	if !ok {
		return nil, core.ErrNotFound
	}
	return d, nil
}
func (b *blobs) DeleteBlob(_ context.Context, k string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, k)
	return nil
}
func (b *blobs) len() int { b.mu.Lock(); defer b.mu.Unlock(); return len(b.m) }

type embedder struct {
	mu    sync.Mutex
	fail  error
	calls int
}

func (e *embedder) ID() string      { return "fake" }
func (e *embedder) Dimensions() int { return 64 }
func (e *embedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls++
	if e.fail != nil {
		return nil, e.fail
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = fakeembed.Vector(t, 64)
	}
	return out, nil
}

type fixture struct {
	svc    *knowledge.Service
	store  knowledge.Store
	blobs  *blobs
	emb    *embedder
	queued []string
}

// newFixture builds a service on SQLite with two bases: "docs" (with an
// embedder) and "plain" (without). queue: ingestion is enqueued (and run
// by the test) rather than run in a goroutine.
func newFixture(t *testing.T, queue bool, fetch knowledge.Fetcher) *fixture {
	t.Helper()
	st, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{store: st, blobs: &blobs{m: map[string][]byte{}}, emb: &embedder{}}
	cfg := knowledge.ServiceConfig{Store: st, Blobs: f.blobs, Readers: reader.Default(reader.Limits{}), Chunkers: chunk.Default(),
		Fetch: fetch,
		Bases: []knowledge.Base{
			{ID: "docs", Embedder: f.emb, ChunkSize: 200, MaxUploadSize: 4096},
			{ID: "plain", Chunker: "markdown"},
		}}
	if queue {
		cfg.Enqueue = func(_ context.Context, id string) error { f.queued = append(f.queued, id); return nil }
	}
	f.svc, err = knowledge.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

const guide = `# Gardening

Tomatoes need full sun and regular watering.

## Pests

Aphids are controlled with soapy water. Slugs come out at night.
`

func (f *fixture) status(t *testing.T, id string) *knowledge.Content {
	t.Helper()
	c, err := f.svc.Get(t.Context(), "", id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAddIngestSearchAndDedupe(t *testing.T) {
	f := newFixture(t, false, nil)
	ctx := t.Context()
	out, err := f.svc.Add(ctx, knowledge.AddRequest{KnowledgeID: "docs", File: &knowledge.Upload{Name: "guide.md", Data: []byte(guide)},
		Metadata: map[string]any{"topic": "garden"}})
	if err != nil {
		t.Fatal(err)
	}
	c := out[0]
	if c.Status != knowledge.StatusProcessing || c.Hash == "" || c.Size != int64(len(guide)) {
		t.Fatalf("added %+v", c)
	}
	if _, err := f.svc.Add(ctx, knowledge.AddRequest{KnowledgeID: "docs", Text: "Compost heats up when turned every week."}); err != nil {
		t.Fatal(err)
	}
	f.svc.Wait()
	if got := f.status(t, c.ID); got.Status != knowledge.StatusCompleted {
		t.Fatalf("status %q %q", got.Status, got.StatusMessage)
	}
	if f.blobs.len() != 0 {
		t.Fatalf("%d blobs left after ingestion", f.blobs.len())
	}
	for _, st := range []string{knowledge.SearchKeyword, knowledge.SearchVector, knowledge.SearchHybrid} {
		res, err := f.svc.Search(ctx, knowledge.SearchRequest{Query: "aphids soapy water", KnowledgeID: "docs", SearchType: st, MaxResults: 5})
		if err != nil {
			t.Fatalf("%s: %v", st, err)
		}
		if len(res.Hits) == 0 || !strings.Contains(res.Hits[0].Text, "Aphids") {
			t.Fatalf("%s: hits %+v", st, res.Hits)
		}
		if res.Hits[0].ContentID != c.ID || res.Hits[0].ContentOrigin != "guide.md" || res.Hits[0].Metadata["topic"] != "garden" {
			t.Fatalf("%s: first hit %+v", st, res.Hits[0])
		}
	}
	// The agents' searcher: the base's default type (hybrid here).
	agentHits, err := knowledge.Searcher{Service: f.svc}.Search(ctx, "docs", "slugs at night", 1)
	if err != nil || len(agentHits) != 1 || !strings.Contains(agentHits[0].Text, "Slugs") {
		t.Fatalf("searcher: %v %+v", err, agentHits)
	}
	if _, err := (knowledge.Searcher{Service: f.svc}).Search(ctx, "nope", "x", 1); core.CodeOf(err) != core.CodeNotFound {
		t.Fatalf("searcher, unknown base: %v", err)
	}
	// Filters narrow; paging pages.
	res, err := f.svc.Search(ctx, knowledge.SearchRequest{Query: "compost aphids", KnowledgeID: "docs", SearchType: knowledge.SearchHybrid,
		Filters: map[string]any{"topic": "garden"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range res.Hits {
		if h.ContentID != c.ID {
			t.Fatalf("filter let through %+v", h)
		}
	}

	// The same bytes again: the same content, no new chunks.
	_, before, _ := f.store.ListContents(ctx, knowledge.ContentList{KnowledgeID: "docs"})
	again, err := f.svc.Add(ctx, knowledge.AddRequest{KnowledgeID: "docs", File: &knowledge.Upload{Name: "copy.md", Data: []byte(guide)}})
	if err != nil || again[0].ID != c.ID {
		t.Fatalf("re-upload: %v, %+v", err, again)
	}
	f.svc.Wait()
	_, after, _ := f.store.ListContents(ctx, knowledge.ContentList{KnowledgeID: "docs"})
	if before != after {
		t.Fatalf("contents %d → %d after a re-upload", before, after)
	}
	// The same bytes in another base are another content.
	other, err := f.svc.Add(ctx, knowledge.AddRequest{KnowledgeID: "plain", File: &knowledge.Upload{Name: "guide.md", Data: []byte(guide)}})
	if err != nil || other[0].ID == c.ID {
		t.Fatalf("other base: %v", err)
	}
	f.svc.Wait()
}

func TestBadInput(t *testing.T) {
	f := newFixture(t, true, nil)
	ctx := t.Context()
	cases := []struct {
		name string
		req  knowledge.AddRequest
		code core.ErrorCode
		msg  string
	}{
		{"unknown base", knowledge.AddRequest{KnowledgeID: "nope", Text: "x"}, core.CodeNotFound, `"nope" not found`},
		{"nothing", knowledge.AddRequest{KnowledgeID: "docs"}, core.CodeInvalid, "exactly one"},
		{"two", knowledge.AddRequest{KnowledgeID: "docs", Text: "x", URLs: []string{"http://a"}}, core.CodeInvalid, "exactly one"},
		{"too large", knowledge.AddRequest{KnowledgeID: "docs", File: &knowledge.Upload{Name: "a.txt", Data: make([]byte, 5000)}}, core.CodeTooLarge, "max_upload_size of 4096"},
		{"unsupported", knowledge.AddRequest{KnowledgeID: "docs", File: &knowledge.Upload{Name: "a.exe", ContentType: "application/x-msdownload", Data: []byte("MZ")}}, core.CodeInvalid, "application/x-msdownload"},
		{"reader", knowledge.AddRequest{KnowledgeID: "docs", Text: "x", ReaderID: "nope"}, core.CodeInvalid, `"nope"`},
		{"chunker", knowledge.AddRequest{KnowledgeID: "docs", Text: "x", Chunker: "nope"}, core.CodeInvalid, `"nope"`},
		{"overlap", knowledge.AddRequest{KnowledgeID: "docs", Text: "x", ChunkSize: 10, ChunkOverlap: 10}, core.CodeInvalid, "chunk_overlap"},
		{"url scheme", knowledge.AddRequest{KnowledgeID: "docs", URLs: []string{"file:///etc/passwd"}}, core.CodeInvalid, "not an http"},
	}
	for _, c := range cases {
		_, err := f.svc.Add(ctx, c.req)
		if core.CodeOf(err) != c.code || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v (code %s), want %s with %q", c.name, err, core.CodeOf(err), c.code, c.msg)
		}
	}
	var unsup *reader.UnsupportedError
	_, err := f.svc.Add(ctx, knowledge.AddRequest{KnowledgeID: "docs", File: &knowledge.Upload{Name: "a.bin", Data: []byte{0}}})
	if !errors.As(err, &unsup) {
		t.Fatalf("unsupported is %T %v", err, err)
	}
	if len(f.queued) != 0 {
		t.Fatalf("bad input queued %v", f.queued)
	}
	_, err = f.svc.Search(ctx, knowledge.SearchRequest{Query: "x", KnowledgeID: "plain", SearchType: "vector"})
	if core.CodeOf(err) != core.CodeInvalid || !strings.Contains(err.Error(), "needs an embedder") {
		t.Fatalf("vector without embedder: %v", err)
	}
	if _, err := f.svc.Search(ctx, knowledge.SearchRequest{Query: "x", KnowledgeID: "plain"}); err != nil {
		t.Fatalf("keyword (the default without embedder): %v", err)
	}
	for _, r := range []knowledge.SearchRequest{{KnowledgeID: "docs"}, {Query: "x", SearchType: "fuzzy"}, {Query: "x", MaxResults: 5000}, {Query: "x", KnowledgeID: "zz"}} {
		if _, err := f.svc.Search(ctx, r); err == nil {
			t.Errorf("search %+v accepted", r)
		}
	}
}

func TestIngestRetriesThenFails(t *testing.T) {
	f := newFixture(t, true, nil)
	ctx := t.Context()
	f.emb.fail = core.Errorf(core.CodeUnavailable, "embedder down")
	out, err := f.svc.Add(ctx, knowledge.AddRequest{KnowledgeID: "docs", Text: "Bees pollinate apple trees in spring."})
	if err != nil || len(f.queued) != 1 {
		t.Fatalf("%v, queued %v", err, f.queued)
	}
	id := out[0].ID
	err = f.svc.Ingest(ctx, id, 1, false)
	if err == nil || knowledge.IsFinal(err) {
		t.Fatalf("attempt 1: %v", err)
	}
	c := f.status(t, id)
	if c.Status != knowledge.StatusProcessing || !strings.Contains(c.StatusMessage, "attempt 1 failed") {
		t.Fatalf("after attempt 1: %q %q", c.Status, c.StatusMessage)
	}
	res, _ := f.svc.Search(ctx, knowledge.SearchRequest{Query: "bees", KnowledgeID: "docs", SearchType: "keyword"})
	if len(res.Hits) != 0 {
		t.Fatalf("half-ingested content found: %+v", res.Hits)
	}
	if err := f.svc.Ingest(ctx, id, 2, true); !knowledge.IsFinal(err) {
		t.Fatalf("last attempt: %v", err)
	}
	c = f.status(t, id)
	if c.Status != knowledge.StatusFailed || !strings.Contains(c.StatusMessage, "embedder down") {
		t.Fatalf("after the last attempt: %q %q", c.Status, c.StatusMessage)
	}
	// A failed content is left alone by a late duplicate job, and the
	// same text can be added again.
	if err := f.svc.Ingest(ctx, id, 3, true); err != nil {
		t.Fatal(err)
	}
	f.emb.fail = nil
	again, err := f.svc.Add(ctx, knowledge.AddRequest{KnowledgeID: "docs", Text: "Bees pollinate apple trees in spring."})
	if err != nil || again[0].ID == id {
		t.Fatalf("re-add of a failed content: %v", err)
	}
	if err := f.svc.Ingest(ctx, again[0].ID, 1, false); err != nil {
		t.Fatal(err)
	}
	// A second run of a completed content's job (a replica died after
	// completing it) changes nothing.
	if err := f.svc.Ingest(ctx, again[0].ID, 2, false); err != nil {
		t.Fatal(err)
	}
	res, _ = f.svc.Search(ctx, knowledge.SearchRequest{Query: "bees", KnowledgeID: "docs", SearchType: "keyword"})
	if len(res.Hits) != 1 {
		t.Fatalf("%d hits, want 1", len(res.Hits))
	}
}

func TestIngestMalformedIsFinal(t *testing.T) {
	f := newFixture(t, true, nil)
	out, err := f.svc.Add(t.Context(), knowledge.AddRequest{KnowledgeID: "docs", File: &knowledge.Upload{Name: "bad.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4 not really")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Ingest(t.Context(), out[0].ID, 1, false); !knowledge.IsFinal(err) {
		t.Fatalf("malformed PDF: %v", err)
	}
	if c := f.status(t, out[0].ID); c.Status != knowledge.StatusFailed || c.StatusMessage == "" {
		t.Fatalf("%q %q", c.Status, c.StatusMessage)
	}
}

func TestIngestURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/page.html":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><body><article><h1>Kiwis</h1><p>Kiwi vines need a male plant nearby.</p></article></body></html>"))
		case "/slow":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	var sawPrivate []bool
	fetch := func(ctx context.Context, u string, allowPrivate bool) (*http.Response, error) {
		sawPrivate = append(sawPrivate, allowPrivate)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		return http.DefaultClient.Do(req)
	}
	f := newFixture(t, true, fetch)
	ctx := t.Context()
	out, err := f.svc.Add(ctx, knowledge.AddRequest{KnowledgeID: "docs", URLs: []string{srv.URL + "/page.html", srv.URL + "/missing", srv.URL + "/slow"}})
	if err != nil || len(out) != 3 {
		t.Fatalf("%v %d", err, len(out))
	}
	if err := f.svc.Ingest(ctx, out[0].ID, 1, false); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Ingest(ctx, out[1].ID, 1, false); !knowledge.IsFinal(err) {
		t.Fatalf("404: %v", err)
	}
	if c := f.status(t, out[1].ID); c.Status != knowledge.StatusFailed || !strings.Contains(c.StatusMessage, "404") {
		t.Fatalf("404: %q %q", c.Status, c.StatusMessage)
	}
	if err := f.svc.Ingest(ctx, out[2].ID, 1, false); err == nil || knowledge.IsFinal(err) {
		t.Fatalf("503 is retried: %v", err)
	}
	res, err := f.svc.Search(ctx, knowledge.SearchRequest{Query: "kiwi male plant", KnowledgeID: "docs"})
	if err != nil || len(res.Hits) == 0 || res.Hits[0].ContentOrigin != srv.URL+"/page.html" {
		t.Fatalf("%v %+v", err, res)
	}
	if sawPrivate[0] {
		t.Fatal("allow_private_urls is off for docs")
	}
}

func TestContentCRUD(t *testing.T) {
	f := newFixture(t, true, nil)
	ctx := t.Context()
	out, _ := f.svc.Add(ctx, knowledge.AddRequest{KnowledgeID: "docs", Text: "one"})
	id := out[0].ID
	name := "renamed"
	c, err := f.svc.Update(ctx, "docs", id, knowledge.Update{Name: &name, Metadata: map[string]any{"k": "v"}})
	if err != nil || c.Name != "renamed" || c.Metadata["k"] != "v" {
		t.Fatalf("%v %+v", err, c)
	}
	if _, err := f.svc.Get(ctx, "plain", id); core.CodeOf(err) != core.CodeNotFound {
		t.Fatalf("content of another base: %v", err)
	}
	empty := ""
	if _, err := f.svc.Update(ctx, "docs", id, knowledge.Update{Name: &empty}); core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("empty name: %v", err)
	}
	list, total, err := f.svc.List(ctx, knowledge.ContentList{KnowledgeID: "docs"})
	if err != nil || total != 1 || len(list) != 1 {
		t.Fatalf("%v %d", err, total)
	}
	if _, _, err := f.svc.List(ctx, knowledge.ContentList{KnowledgeID: "docs", SortBy: "hash"}); core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("sort_by hash: %v", err)
	}
	if _, err := f.svc.Delete(ctx, "docs", id); err != nil {
		t.Fatal(err)
	}
	if f.blobs.len() != 0 {
		t.Fatal("blob left after delete")
	}
	if err := f.svc.Ingest(ctx, id, 1, false); err != nil {
		t.Fatalf("job of a deleted content: %v", err)
	}
	f.svc.Add(ctx, knowledge.AddRequest{KnowledgeID: "docs", Text: "two"})
	f.svc.Add(ctx, knowledge.AddRequest{KnowledgeID: "docs", Text: "three"})
	if n, err := f.svc.DeleteAll(ctx, "docs"); err != nil || n != 2 {
		t.Fatalf("%v %d", err, n)
	}
}

func TestFuseRRF(t *testing.T) {
	h := func(id string) knowledge.Hit { return knowledge.Hit{Chunk: knowledge.Chunk{ID: id}} }
	kw := []knowledge.Hit{h("a"), h("b"), h("c")}
	vec := []knowledge.Hit{h("c"), h("d"), h("a")}
	got := knowledge.FuseRRF(3, kw, vec)
	// a: 1/61+1/63, c: 1/63+1/61 (a first: ties keep the first list's
	// order), then b: 1/62 above d: 1/62 (same tie rule).
	ids := []string{got[0].ID, got[1].ID, got[2].ID}
	if strings.Join(ids, "") != "acb" {
		t.Fatalf("fused %v", ids)
	}
	if want := 1.0/61 + 1.0/63; got[0].Score-want > 1e-12 || want-got[0].Score > 1e-12 {
		t.Fatalf("score %v, want %v", got[0].Score, want)
	}
}
