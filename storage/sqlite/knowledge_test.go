package sqlite_test

import (
	"errors"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/knowledge"
)

// FuzzKnowledgeSearch: any query text and any filter (key and value from
// the request) is a search that answers, or a filter refused as
// core.ErrInvalid — never an FTS5 syntax or SQL error.
func FuzzKnowledgeSearch(f *testing.F) {
	s := openMemory(f)
	ctx := f.Context()
	c := &knowledge.Content{ID: "c", KnowledgeID: "kb", Status: knowledge.StatusProcessing, Metadata: map[string]any{"team": "red"}}
	if err := s.CreateContent(ctx, c); err != nil {
		f.Fatal(err)
	}
	if err := s.CompleteContent(ctx, "c", []knowledge.Chunk{
		{Text: `quantum "entanglement" NEAR(a b) OR x*`, Metadata: map[string]any{"lang": "en", `a"b`: "q"}, Embedding: []float32{1, 0}},
	}); err != nil {
		f.Fatal(err)
	}
	f.Add("quantum", "lang", "en")
	f.Add(`"unbalanced`, `a"b`, "q")
	f.Add("NEAR(a b) AND OR NOT *", "$.x[0]", "'; DROP TABLE knowledge_chunks; --")
	f.Add("\x00\xff", "", "\x00")
	f.Fuzz(func(t *testing.T, text, key, value string) {
		filters := map[string]any{key: value}
		hits, err := s.SearchKeyword(ctx, knowledge.Query{KnowledgeID: "kb", Text: text, Filters: filters})
		if err != nil && !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("SearchKeyword(%q, %q=%q): %v", text, key, value, err)
		}
		for _, h := range hits {
			if h.KnowledgeID != "kb" {
				t.Fatalf("hit of base %q", h.KnowledgeID)
			}
		}
		if _, err := s.SearchVector(ctx, knowledge.Query{KnowledgeID: "kb", Vector: []float32{1, 1}, Filters: filters}); err != nil && !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("SearchVector(%q=%q): %v", key, value, err)
		}
	})
}
