package sqlite_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/knowledge"
)

// FuzzKnowledgeSearch: any query text and any filter (the request's JSON)
// is a search that answers, or a filter refused as core.ErrInvalid — never
// an FTS5 syntax or SQL error; and the chunks a filter selects are those
// knowledge.Filter.Match (the reference) selects.
func FuzzKnowledgeSearch(f *testing.F) {
	s := openMemory(f)
	ctx := f.Context()
	contentMeta := map[string]any{"team": "red", "n": float64(3)}
	c := &knowledge.Content{ID: "c", KnowledgeID: "kb", Status: knowledge.StatusProcessing, Metadata: contentMeta}
	if err := s.CreateContent(ctx, c); err != nil {
		f.Fatal(err)
	}
	chunks := []knowledge.Chunk{
		{Text: `quantum "entanglement" NEAR(a b) OR x*`, Metadata: map[string]any{"lang": "en", `a"b`: "q", "n": float64(1)}, Embedding: []float32{1, 0}},
		{Text: "quantum two", Metadata: map[string]any{"lang": "DE", "tags": []any{"x", float64(2), true}, "t": "Abc"}, Embedding: []float32{0, 1}},
		{Text: "quantum three", Metadata: map[string]any{"n": 2.5, "t": "abd", "nul": nil}, Embedding: []float32{1, 1}},
	}
	if err := s.CompleteContent(ctx, "c", chunks); err != nil {
		f.Fatal(err)
	}
	f.Add("quantum", `{"lang":"en"}`)
	f.Add(`"unbalanced`, `{"a\"b":"q"}`)
	f.Add("NEAR(a b) AND OR NOT *", `{"$.x[0]":"'; DROP TABLE knowledge_chunks; --"}`)
	f.Add("\x00\xff", `{"":"\u0000"}`)
	f.Add("quantum", `{"op":"OR","conditions":[{"op":"GT","key":"n","value":2},{"op":"NOT","condition":{"op":"CONTAINS","key":"tags","value":"X"}}]}`)
	f.Add("quantum", `{"op":"AND","conditions":[{"op":"STARTSWITH","key":"t","value":"AB"},{"op":"IN","key":"lang","values":["DE",1,false]}]}`)
	f.Add("quantum", `{"op":"NEQ","key":"nul","value":"') OR 1=1 --"}`)
	f.Fuzz(func(t *testing.T, text, filter string) {
		var m map[string]any
		if json.Unmarshal([]byte(filter), &m) != nil {
			return
		}
		flt, err := knowledge.NormalizeFilters(m)
		if err != nil {
			if !errors.Is(err, core.ErrInvalid) {
				t.Fatalf("NormalizeFilters(%s): %v", filter, err)
			}
			return
		}
		hits, err := s.SearchKeyword(ctx, knowledge.Query{KnowledgeID: "kb", Text: text, Filter: flt})
		if err != nil && !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("SearchKeyword(%q, %s): %v", text, filter, err)
		}
		for _, h := range hits {
			if h.KnowledgeID != "kb" {
				t.Fatalf("hit of base %q", h.KnowledgeID)
			}
		}
		vec, err := s.SearchVector(ctx, knowledge.Query{KnowledgeID: "kb", Vector: []float32{1, 1}, Filter: flt})
		if err != nil {
			if !errors.Is(err, core.ErrInvalid) {
				t.Fatalf("SearchVector(%s): %v", filter, err)
			}
			return
		}
		want := map[string]bool{}
		for _, ch := range chunks {
			if flt.Match(ch.Metadata, contentMeta) {
				want[ch.Text] = true
			}
		}
		if len(vec) != len(want) {
			t.Fatalf("filter %s: %d vector hits, Match selects %v", filter, len(vec), want)
		}
		for _, h := range vec {
			if !want[h.Text] {
				t.Fatalf("filter %s: hit %q, Match selects %v", filter, h.Text, want)
			}
		}
	})
}
