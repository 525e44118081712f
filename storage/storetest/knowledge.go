package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/knowledge"
)

// testKnowledge covers knowledge.Store: contents (CRUD, the hash lookup and
// its uniqueness, statuses, lists), the completion that replaces a
// content's chunks atomically, deletes, and both searches — keyword
// (relevance order), vector (exact nearest first), metadata filters — which
// never find a chunk of a content that is not completed, nor one of another
// knowledge base. Every test uses knowledge bases of its own, so a shared
// database is fine. The vector tests need pgvector on PostgreSQL and fail
// without it.
func testKnowledge(t *testing.T, newBackend Factory) {
	parallel(t, "ContentCRUD", func(t *testing.T) {
		s := newBackend(t).Knowledge
		want := fullContent(newID("kb"))
		mustCreateContent(t, s, want)
		assertContent(t, want, mustGetContent(t, s, want.ID))

		dup := *want
		dup.Hash = "other"
		if err := s.CreateContent(t.Context(), &dup); !errors.Is(err, core.ErrConflict) {
			t.Fatalf("CreateContent with a taken id: %v, want ErrConflict", err)
		}

		upd := *want
		upd.Name, upd.Description, upd.ReaderID, upd.UpdatedAt = "renamed", "", "markdown", baseTime()+60
		upd.Metadata = map[string]any{"k": "v2"}
		upd.Size, upd.Hash, upd.Status = 1, "changed", knowledge.StatusFailed // not written by an update
		if err := s.UpdateContent(t.Context(), &upd); err != nil {
			t.Fatalf("UpdateContent: %v", err)
		}
		exp := *want
		exp.Name, exp.Description, exp.ReaderID, exp.UpdatedAt, exp.Metadata = upd.Name, upd.Description, upd.ReaderID, upd.UpdatedAt, upd.Metadata
		assertContent(t, &exp, mustGetContent(t, s, want.ID))

		if err := s.DeleteContent(t.Context(), want.ID); err != nil {
			t.Fatalf("DeleteContent: %v", err)
		}
		if _, err := s.GetContent(t.Context(), want.ID); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("GetContent after delete: %v, want ErrNotFound", err)
		}
	})

	parallel(t, "Missing", func(t *testing.T) {
		s := newBackend(t).Knowledge
		ctx, id := t.Context(), newID("missing")
		checks := map[string]error{}
		_, checks["GetContent"] = s.GetContent(ctx, id)
		_, checks["ContentByHash"] = s.ContentByHash(ctx, newID("kb"), "nohash")
		checks["UpdateContent"] = s.UpdateContent(ctx, &knowledge.Content{ID: id})
		checks["SetContentStatus"] = s.SetContentStatus(ctx, id, knowledge.StatusFailed, "x")
		checks["CompleteContent"] = s.CompleteContent(ctx, id, textChunks("a"))
		checks["DeleteContent"] = s.DeleteContent(ctx, id)
		for name, err := range checks {
			if !errors.Is(err, core.ErrNotFound) {
				t.Errorf("%s of a missing content: %v, want ErrNotFound", name, err)
			}
		}
		if n, err := s.DeleteContents(ctx, newID("kb")); err != nil || n != 0 {
			t.Errorf("DeleteContents of an empty base: %d, %v", n, err)
		}
	})

	parallel(t, "HashLookup", func(t *testing.T) {
		s := newBackend(t).Knowledge
		ctx, kb, hash := t.Context(), newID("kb"), newID("sha")
		a := newContent(kb, "a")
		a.Hash = hash
		mustCreateContent(t, s, a)
		got, err := s.ContentByHash(ctx, kb, hash)
		if err != nil || got.ID != a.ID {
			t.Fatalf("ContentByHash: %+v, %v; want %s", got, err, a.ID)
		}
		if _, err := s.ContentByHash(ctx, newID("kb"), hash); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("ContentByHash in another base: %v, want ErrNotFound", err)
		}
		b := newContent(kb, "b")
		b.Hash = hash
		if err := s.CreateContent(ctx, b); !errors.Is(err, core.ErrConflict) {
			t.Fatalf("CreateContent with the hash of a processing content: %v, want ErrConflict", err)
		}
		other := newContent(newID("kb"), "other")
		other.Hash = hash
		mustCreateContent(t, s, other) // another base may hold it

		// A failed content gives its hash up.
		if err := s.SetContentStatus(ctx, a.ID, knowledge.StatusFailed, "boom"); err != nil {
			t.Fatalf("SetContentStatus: %v", err)
		}
		if _, err := s.ContentByHash(ctx, kb, hash); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("ContentByHash of a failed content: %v, want ErrNotFound", err)
		}
		mustCreateContent(t, s, b)
		mustComplete(t, s, b.ID, textChunks("b text"))
		if got, err := s.ContentByHash(ctx, kb, hash); err != nil || got.ID != b.ID || got.Status != knowledge.StatusCompleted {
			t.Fatalf("ContentByHash of a completed content: %+v, %v", got, err)
		}
		// The failed one cannot be retried while b holds the hash.
		if err := s.SetContentStatus(ctx, a.ID, knowledge.StatusProcessing, ""); !errors.Is(err, core.ErrConflict) {
			t.Fatalf("retry of a content whose hash is taken: %v, want ErrConflict", err)
		}
	})

	parallel(t, "Status", func(t *testing.T) {
		s := newBackend(t).Knowledge
		c := newContent(newID("kb"), "c")
		mustCreateContent(t, s, c)
		if got := mustGetContent(t, s, c.ID); got.Status != knowledge.StatusProcessing {
			t.Fatalf("new content's status %q", got.Status)
		}
		if err := s.SetContentStatus(t.Context(), c.ID, knowledge.StatusFailed, "reader: bad PDF"); err != nil {
			t.Fatal(err)
		}
		if got := mustGetContent(t, s, c.ID); got.Status != knowledge.StatusFailed || got.StatusMessage != "reader: bad PDF" {
			t.Fatalf("after SetContentStatus: %q %q", got.Status, got.StatusMessage)
		}
		if err := s.SetContentStatus(t.Context(), c.ID, "done", ""); !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("SetContentStatus(done): %v, want ErrInvalid", err)
		}
		mustComplete(t, s, c.ID, nil)
		if got := mustGetContent(t, s, c.ID); got.Status != knowledge.StatusCompleted || got.StatusMessage != "" {
			t.Fatalf("after CompleteContent: %q %q", got.Status, got.StatusMessage)
		}
	})

	parallel(t, "CompleteContentReplacesChunks", func(t *testing.T) {
		s := newBackend(t).Knowledge
		ctx, kb := t.Context(), newID("kb")
		c := newContent(kb, "c")
		mustCreateContent(t, s, c)
		// Chunks of a processing content are never found.
		wantKeyword(t, s, kb, "zebra", nil)
		first := textChunks("zebra crossing", "zebra stripes")
		mustComplete(t, s, c.ID, first)
		wantKeyword(t, s, kb, "zebra", []string{"zebra crossing", "zebra stripes"})

		second := textChunks("giraffe neck")
		mustComplete(t, s, c.ID, second)
		wantKeyword(t, s, kb, "zebra", nil)
		wantKeyword(t, s, kb, "giraffe", []string{"giraffe neck"})

		// Back to processing (a retry), or failed: nothing is found.
		if err := s.SetContentStatus(ctx, c.ID, knowledge.StatusProcessing, ""); err != nil {
			t.Fatal(err)
		}
		wantKeyword(t, s, kb, "giraffe", nil)
		if err := s.SetContentStatus(ctx, c.ID, knowledge.StatusFailed, "x"); err != nil {
			t.Fatal(err)
		}
		wantKeyword(t, s, kb, "giraffe", nil)
	})

	parallel(t, "CompleteContentIsAtomic", func(t *testing.T) {
		s := newBackend(t).Knowledge
		ctx, kb := t.Context(), newID("kb")
		a, b := newContent(kb, "a"), newContent(kb, "b")
		mustCreateContent(t, s, a)
		mustCreateContent(t, s, b)
		ac := textChunks("walrus tusk")
		ac[0].ID = newID("chunk")
		mustComplete(t, s, a.ID, ac)
		mustComplete(t, s, b.ID, textChunks("penguin egg"))
		// b's new chunks reuse a chunk id of a: the transaction fails
		// after deleting b's old chunks, and nothing of it stays.
		bad := textChunks("penguin feather", "walrus again")
		bad[1].ID = ac[0].ID
		if err := s.CompleteContent(ctx, b.ID, bad); err == nil {
			t.Fatal("CompleteContent with a taken chunk id succeeded")
		}
		if got := mustGetContent(t, s, b.ID); got.Status != knowledge.StatusCompleted {
			t.Fatalf("after a failed completion: %q", got.Status)
		}
		wantKeyword(t, s, kb, "penguin", []string{"penguin egg"})
		wantKeyword(t, s, kb, "walrus", []string{"walrus tusk"})
		// Bad chunks are refused before anything is written.
		mixed := vecChunks(map[string][]float32{"x": {1, 0}, "y": {1, 0, 0}})
		if err := s.CompleteContent(ctx, b.ID, mixed); !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("CompleteContent with embeddings of two lengths: %v, want ErrInvalid", err)
		}
		nan := vecChunks(map[string][]float32{"x": {float32(math.NaN()), 1}})
		if err := s.CompleteContent(ctx, b.ID, nan); !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("CompleteContent with a NaN: %v, want ErrInvalid", err)
		}
		// Once more, well: b's old chunks (deleted by the retry) stay gone.
		mustComplete(t, s, b.ID, textChunks("penguin feather"))
		wantKeyword(t, s, kb, "penguin", []string{"penguin feather"})
	})

	parallel(t, "ListContents", func(t *testing.T) {
		s := newBackend(t).Knowledge
		ctx, kb := t.Context(), newID("kb")
		var ids []string
		for i, name := range []string{"delta", "alpha", "echo", "charlie", "bravo"} {
			c := newContent(kb, name)
			c.CreatedAt = baseTime() + int64(i)
			mustCreateContent(t, s, c)
			ids = append(ids, c.ID)
		}
		mustCreateContent(t, s, newContent(newID("kb"), "elsewhere"))

		got, total, err := s.ListContents(ctx, knowledge.ContentList{KnowledgeID: kb})
		if err != nil || total != 5 {
			t.Fatalf("ListContents: total %d, %v", total, err)
		}
		if want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}; !slices.Equal(contentIDs(got), want) {
			t.Fatalf("default order (newest first): %v, want %v", contentIDs(got), want)
		}
		got, total, err = s.ListContents(ctx, knowledge.ContentList{KnowledgeID: kb, Limit: 2, Page: 2, SortBy: "name", SortOrder: "asc"})
		if err != nil || total != 5 || !slices.Equal(contentNames(got), []string{"charlie", "delta"}) {
			t.Fatalf("page 2 by name: %v, total %d, %v", contentNames(got), total, err)
		}
		got, total, err = s.ListContents(ctx, knowledge.ContentList{KnowledgeID: kb, Limit: 2, Page: 4})
		if err != nil || total != 5 || len(got) != 0 || got == nil {
			t.Fatalf("a page past the end: %v, total %d, %v", got, total, err)
		}
		if _, _, err := s.ListContents(ctx, knowledge.ContentList{KnowledgeID: kb, SortBy: "name; DROP TABLE x"}); !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("unknown sort key: %v, want ErrInvalid", err)
		}
		if _, _, err := s.ListContents(ctx, knowledge.ContentList{KnowledgeID: kb, SortOrder: "sideways"}); !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("unknown sort order: %v, want ErrInvalid", err)
		}
	})

	parallel(t, "Delete", func(t *testing.T) {
		s := newBackend(t).Knowledge
		ctx, kb, other := t.Context(), newID("kb"), newID("kb")
		vecs := map[string][]float32{"otter river": {1, 0, 0}, "otter sea": {0, 1, 0}}
		a, b, c := newContent(kb, "a"), newContent(kb, "b"), newContent(other, "c")
		for _, x := range []*knowledge.Content{a, b, c} {
			mustCreateContent(t, s, x)
			mustComplete(t, s, x.ID, vecChunks(vecs))
		}
		wantVector(t, s, kb, []float32{1, 0.1, 0}, []string{"otter river", "otter river", "otter sea", "otter sea"})
		if err := s.DeleteContent(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		wantKeyword(t, s, kb, "otter", []string{"otter river", "otter sea"})
		wantVector(t, s, kb, []float32{1, 0.1, 0}, []string{"otter river", "otter sea"})
		n, err := s.DeleteContents(ctx, kb)
		if err != nil || n != 1 {
			t.Fatalf("DeleteContents: %d, %v; want 1", n, err)
		}
		wantKeyword(t, s, kb, "otter", nil)
		wantVector(t, s, kb, []float32{1, 0, 0}, nil)
		if _, err := s.GetContent(ctx, b.ID); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("GetContent after DeleteContents: %v", err)
		}
		// The other base is untouched.
		wantKeyword(t, s, other, "otter", []string{"otter river", "otter sea"})
		wantVector(t, s, other, []float32{0, 1, 0}, []string{"otter sea", "otter river"})
	})

	parallel(t, "KeywordRanking", func(t *testing.T) {
		s := newBackend(t).Knowledge
		ctx, kb := t.Context(), newID("kb")
		c := newContent(kb, "c")
		mustCreateContent(t, s, c)
		mustComplete(t, s, c.ID, textChunks(
			"Cooking pasta al dente takes about ten minutes.",
			"Entanglement of headphone cables in a pocket is a daily nuisance.",
			"Quantum entanglement links the states of two particles: measuring one quantum particle fixes the other.",
			"Particles of dust in sunlight.",
		))
		hits := wantKeyword(t, s, kb, "quantum entanglement", []string{
			"Quantum entanglement links the states of two particles: measuring one quantum particle fixes the other.",
			"Entanglement of headphone cables in a pocket is a daily nuisance.",
		})
		if !(hits[0].Score > hits[1].Score) || hits[1].Score <= 0 {
			t.Fatalf("scores %v, %v: want decreasing and positive", hits[0].Score, hits[1].Score)
		}
		if hits[0].ContentID != c.ID || hits[0].KnowledgeID != kb || hits[0].ID == "" {
			t.Fatalf("hit %+v", hits[0].Chunk)
		}
		// Stemming: "particles" finds "particle" too, on both engines.
		if got := mustKeyword(t, s, knowledge.Query{KnowledgeID: kb, Text: "particles"}); len(got) != 2 {
			t.Fatalf("particles: %d hits", len(got))
		}
		// Limit.
		if got := mustKeyword(t, s, knowledge.Query{KnowledgeID: kb, Text: "quantum entanglement", Limit: 1}); len(got) != 1 {
			t.Fatalf("limit 1: %d hits", len(got))
		}
		// Any text is a valid query: query syntax is never interpreted.
		for _, text := range []string{`"unbalanced`, `quantum AND (NOT`, `* ^ - NEAR(a b) : {x}`, `'; DROP TABLE knowledge_chunks; --`, "", "   ", "\x00\xff"} {
			if _, err := s.SearchKeyword(ctx, knowledge.Query{KnowledgeID: kb, Text: text}); err != nil {
				t.Errorf("SearchKeyword(%q): %v", text, err)
			}
		}
	})

	parallel(t, "VectorRanking", func(t *testing.T) {
		s := newBackend(t).Knowledge
		ctx, kb := t.Context(), newID("kb")
		c := newContent(kb, "c")
		mustCreateContent(t, s, c)
		vecs := map[string][]float32{
			"near":     {1, 0.1, 0, 0},
			"diagonal": {1, 1, 0, 0},
			"side":     {0, 1, 0.2, 0},
			"opposite": {-1, 0, 0, 0.3},
		}
		mustComplete(t, s, c.ID, vecChunks(vecs))
		q := []float32{2, 0, 0, 0}
		hits := wantVector(t, s, kb, q, []string{"near", "diagonal", "side", "opposite"})
		for _, h := range hits {
			if want := cosine(q, vecs[h.Text]); math.Abs(h.Score-want) > 1e-4 {
				t.Errorf("%s: score %v, want the cosine similarity %v", h.Text, h.Score, want)
			}
		}
		if got := mustVector(t, s, knowledge.Query{KnowledgeID: kb, Vector: q, Limit: 2}); len(got) != 2 || got[0].Text != "near" {
			t.Fatalf("limit 2: %v", hitTexts(got))
		}
		// A query of another length compares with nothing.
		if got := mustVector(t, s, knowledge.Query{KnowledgeID: kb, Vector: []float32{1, 0, 0}}); len(got) != 0 {
			t.Fatalf("a 3-dimension query: %v", hitTexts(got))
		}
		// A new content is found by the next search (no stale cache).
		d := newContent(kb, "d")
		mustCreateContent(t, s, d)
		mustComplete(t, s, d.ID, vecChunks(map[string][]float32{"exact": {3, 0, 0, 0}}))
		wantVector(t, s, kb, q, []string{"exact", "near", "diagonal", "side", "opposite"})
		if err := s.SetContentStatus(ctx, d.ID, knowledge.StatusProcessing, ""); err != nil {
			t.Fatal(err)
		}
		wantVector(t, s, kb, q, []string{"near", "diagonal", "side", "opposite"})
		// Bad query vectors.
		for name, v := range map[string][]float32{"empty": nil, "zero": {0, 0, 0, 0}, "nan": {float32(math.NaN()), 1, 0, 0},
			"inf": {float32(math.Inf(1)), 0, 0, 0}} {
			if _, err := s.SearchVector(ctx, knowledge.Query{KnowledgeID: kb, Vector: v}); !errors.Is(err, core.ErrInvalid) {
				t.Errorf("SearchVector(%s): %v, want ErrInvalid", name, err)
			}
		}
	})

	parallel(t, "Filters", func(t *testing.T) {
		s := newBackend(t).Knowledge
		ctx, kb := t.Context(), newID("kb")
		a, b := newContent(kb, "a"), newContent(kb, "b")
		a.Metadata = map[string]any{"team": "red"}
		b.Metadata = map[string]any{"team": "blue"}
		mustCreateContent(t, s, a)
		mustCreateContent(t, s, b)
		const (
			A1 = "report english page one"
			A2 = "report english page two"
			B1 = "report german page one"
			B2 = "report german page 1.5"
		)
		chunkMeta := map[string]map[string]any{
			A1: {"lang": "en", "page": float64(1), "draft": false, "title": "Annual Report", "tags": []any{"Go", "sql"}, "nums": []any{float64(1), float64(2)}},
			A2: {"lang": "en", "page": float64(2), "draft": true, "title": "appendix", "tags": []any{"rust"}},
			B1: {"lang": "de", "page": float64(1), "quote": `it's "x"`, "title": "Bericht über Ähren"},
			B2: {"lang": "de", "page": 1.5, "num": "1", "note": nil, `k.e"y'\ [0]`: "v"},
		}
		contentMeta := map[string]map[string]any{A1: a.Metadata, A2: a.Metadata, B1: b.Metadata, B2: b.Metadata}
		mk := func(text string, v []float32) knowledge.Chunk {
			return knowledge.Chunk{Text: text, Metadata: chunkMeta[text], Embedding: v}
		}
		mustComplete(t, s, a.ID, []knowledge.Chunk{mk(A1, []float32{1, 0, 0}), mk(A2, []float32{0.9, 0.1, 0})})
		mustComplete(t, s, b.ID, []knowledge.Chunk{mk(B1, []float32{0.8, 0.2, 0}), mk(B2, []float32{0.7, 0.3, 0})})
		eq := func(k string, v any) map[string]any { return map[string]any{"op": "EQ", "key": k, "value": v} }
		op := func(o, k string, v any) map[string]any { return map[string]any{"op": o, "key": k, "value": v} }
		in := func(k string, vs ...any) map[string]any { return map[string]any{"op": "IN", "key": k, "values": vs} }
		and := func(cs ...any) map[string]any { return map[string]any{"op": "AND", "conditions": cs} }
		or := func(cs ...any) map[string]any { return map[string]any{"op": "OR", "conditions": cs} }
		not := func(c any) map[string]any { return map[string]any{"op": "NOT", "condition": c} }
		all := []string{A1, A2, B1, B2}
		cases := []struct {
			name    string
			filters map[string]any
			want    []string
		}{
			// The dict form: every key equals its value.
			{"string", map[string]any{"lang": "en"}, []string{A1, A2}},
			{"number", map[string]any{"page": 1}, []string{A1, B1}},
			{"fraction", map[string]any{"page": 1.5}, []string{B2}},
			{"bool", map[string]any{"draft": true}, []string{A2}},
			{"false", map[string]any{"draft": false}, []string{A1}},
			{"content metadata", map[string]any{"team": "blue"}, []string{B1, B2}},
			{"all must match", map[string]any{"team": "red", "page": float64(2)}, []string{A2}},
			{"quotes", map[string]any{"quote": `it's "x"`}, []string{B1}},
			{"types differ", map[string]any{"num": float64(1)}, nil},
			{"number as string", map[string]any{"page": "1"}, nil},
			{"missing key", map[string]any{"nope": "x"}, nil},
			{"key like SQL", map[string]any{"lang') OR 1=1 --": "en"}, nil},
			{"key like a path", map[string]any{`k.e"y'\ [0]`: "v"}, []string{B2}},
			// The expression form, every operator.
			{"EQ", eq("lang", "de"), []string{B1, B2}},
			{"eq lower case", op("eq", "lang", "de"), []string{B1, B2}},
			{"EQ value like SQL", eq("lang", "en' OR '1'='1"), nil},
			{"EQ content", eq("team", "red"), []string{A1, A2}},
			{"NEQ string", op("NEQ", "lang", "en"), []string{B1, B2}},
			{"NEQ needs the key", op("NEQ", "draft", true), []string{A1}},
			{"NEQ number", op("NEQ", "page", 1), []string{A2, B2}},
			{"NEQ other type", op("NEQ", "num", 1), []string{B2}},
			{"NEQ null value", op("NEQ", "note", "x"), []string{B2}},
			{"GT", op("GT", "page", 1), []string{A2, B2}},
			{"GTE", op("GTE", "page", 1.5), []string{A2, B2}},
			{"LT", op("LT", "page", 2), []string{A1, B1, B2}},
			{"LTE", op("LTE", "page", 1), []string{A1, B1}},
			{"GT string", op("GT", "title", "B"), []string{A2, B1}},
			{"LT string", op("LT", "title", "B"), []string{A1}},
			{"GT string vs number", op("GT", "page", "1"), nil},
			{"LT number vs string", op("LT", "title", 100), nil},
			{"IN", in("lang", "de", "fr"), []string{B1, B2}},
			{"IN numbers", in("page", 2, 1.5), []string{A2, B2}},
			{"IN content", in("team", "red"), []string{A1, A2}},
			{"IN mixed types", in("page", "1", true, 2), []string{A2}},
			{"IN nothing", in("lang"), nil},
			{"CONTAINS substring any case", op("CONTAINS", "title", "REPORT"), []string{A1}},
			{"CONTAINS list element any case", op("CONTAINS", "tags", "go"), []string{A1}},
			{"CONTAINS list element whole", op("CONTAINS", "tags", "s"), nil},
			{"CONTAINS number in list", op("CONTAINS", "nums", 2), []string{A1}},
			{"CONTAINS number not in list", op("CONTAINS", "nums", 3), nil},
			{"CONTAINS on content", op("CONTAINS", "team", "E"), []string{A1, A2, B1, B2}},
			{"CONTAINS folds ASCII only", op("CONTAINS", "title", "ähren"), nil},
			{"CONTAINS non-ASCII", op("CONTAINS", "title", "Ähren"), []string{B1}},
			{"STARTSWITH", op("STARTSWITH", "title", "ann"), []string{A1}},
			{"STARTSWITH empty", op("STARTSWITH", "title", ""), []string{A1, A2, B1}},
			{"STARTSWITH quote", op("STARTSWITH", "quote", `IT'S "`), []string{B1}},
			{"STARTSWITH not a prefix", op("STARTSWITH", "title", "report"), nil},
			{"AND", and(eq("lang", "en"), op("GT", "page", 1)), []string{A2}},
			{"OR", or(eq("lang", "de"), eq("draft", true)), []string{A2, B1, B2}},
			{"NOT", not(eq("lang", "en")), []string{B1, B2}},
			{"NOT of a missing key", not(eq("draft", true)), []string{A1, B1, B2}},
			{"NOT OR", not(or(eq("team", "red"), eq("page", 1.5))), []string{B1}},
			{"nested", or(and(eq("team", "blue"), op("LT", "page", 1.5)), and(eq("lang", "en"), not(eq("draft", true)))), []string{A1, B1}},
			{"NOT NOT", not(not(in("page", 1))), []string{A1, B1}},
			{"AND of nothing", and(), all},
			{"OR of nothing", or(), nil},
		}
		for _, c := range cases {
			f, err := knowledge.NormalizeFilters(c.filters)
			if err != nil {
				t.Errorf("%s: NormalizeFilters(%v): %v", c.name, c.filters, err)
				continue
			}
			// The reference evaluation agrees with the expectation.
			var ref []string
			for _, text := range all {
				if f.Match(chunkMeta[text], contentMeta[text]) {
					ref = append(ref, text)
				}
			}
			if !sameSet(ref, c.want) {
				t.Errorf("%s: Filter.Match selects %q, want %q", c.name, ref, c.want)
			}
			kw := mustKeyword(t, s, knowledge.Query{KnowledgeID: kb, Text: "report", Filter: f})
			if got := hitTexts(kw); !sameSet(got, c.want) {
				t.Errorf("%s: keyword hits %q, want %q", c.name, got, c.want)
			}
			vec := mustVector(t, s, knowledge.Query{KnowledgeID: kb, Vector: []float32{1, 0, 0}, Filter: f})
			if got := hitTexts(vec); !sameSet(got, c.want) {
				t.Errorf("%s: vector hits %q, want %q", c.name, got, c.want)
			}
		}
		f, _ := knowledge.NormalizeFilters(map[string]any{"quote": `it's "x"`})
		hits := mustKeyword(t, s, knowledge.Query{KnowledgeID: kb, Text: "report", Filter: f})
		if len(hits) != 1 || !reflect.DeepEqual(hits[0].Metadata, chunkMeta[B1]) {
			t.Errorf("hit metadata %v", hitTexts(hits))
		}
		// A filter built in code is checked by the store.
		deep := &knowledge.Filter{Op: knowledge.OpEQ, Key: "lang", Value: "en"}
		for range knowledge.MaxFilterDepth {
			deep = &knowledge.Filter{Op: knowledge.OpNOT, Conditions: []*knowledge.Filter{deep}}
		}
		for name, bad := range map[string]*knowledge.Filter{
			"object value":    {Op: knowledge.OpEQ, Key: "lang", Value: map[string]any{"a": 1}},
			"list value":      {Op: knowledge.OpEQ, Key: "lang", Value: []any{1}},
			"null value":      {Op: knowledge.OpEQ, Key: "lang"},
			"NaN":             {Op: knowledge.OpGT, Key: "page", Value: math.NaN()},
			"bool ordering":   {Op: knowledge.OpLT, Key: "page", Value: true},
			"unknown op":      {Op: "LIKE", Key: "lang", Value: "%"},
			"NUL in key":      {Op: knowledge.OpEQ, Key: "a\x00b", Value: "x"},
			"empty key":       {Op: knowledge.OpEQ, Key: "", Value: "x"},
			"NOT of nothing":  {Op: knowledge.OpNOT},
			"nil condition":   {Op: knowledge.OpAND, Conditions: []*knowledge.Filter{nil}},
			"STARTSWITH a 1":  {Op: knowledge.OpSTARTSWITH, Key: "title", Value: float64(1)},
			"too deep":        deep,
			"IN holds a list": {Op: knowledge.OpIN, Key: "lang", Values: []any{[]any{"en"}}},
		} {
			if _, err := s.SearchKeyword(ctx, knowledge.Query{KnowledgeID: kb, Text: "report", Filter: bad}); !errors.Is(err, core.ErrInvalid) {
				t.Errorf("keyword filter %s: %v, want ErrInvalid", name, err)
			}
			if _, err := s.SearchVector(ctx, knowledge.Query{KnowledgeID: kb, Vector: []float32{1, 0, 0}, Filter: bad}); !errors.Is(err, core.ErrInvalid) {
				t.Errorf("vector filter %s: %v, want ErrInvalid", name, err)
			}
		}
	})

	parallel(t, "FilterKeys", func(t *testing.T) {
		s := newBackend(t).Knowledge
		ctx, kb := t.Context(), newID("kb")
		if keys, err := s.FilterKeys(ctx, kb); err != nil || keys == nil || len(keys) != 0 {
			t.Fatalf("an empty base: %q %v", keys, err)
		}
		a, b, c, other := newContent(kb, "a"), newContent(kb, "b"), newContent(kb, "c"), newContent(newID("kb"), "o")
		a.Metadata = map[string]any{"team": "red", "page": float64(1), `q"uote`: true}
		b.Metadata = map[string]any{"team": "blue", "Zeta": map[string]any{"nested": 1}}
		other.Metadata = map[string]any{"elsewhere": 1}
		for _, x := range []*knowledge.Content{a, b, c, other} {
			mustCreateContent(t, s, x)
		}
		keys, err := s.FilterKeys(ctx, kb)
		if want := []string{"Zeta", "page", `q"uote`, "team"}; err != nil || !slices.Equal(keys, want) {
			t.Fatalf("filter keys %q %v, want %q", keys, err, want)
		}
	})

	parallel(t, "CountAccess", func(t *testing.T) {
		s := newBackend(t).Knowledge
		ctx, kb := t.Context(), newID("kb")
		a, b := newContent(kb, "a"), newContent(kb, "b")
		mustCreateContent(t, s, a)
		mustCreateContent(t, s, b)
		count := func(id string) int {
			t.Helper()
			return mustGetContent(t, s, id).AccessCount
		}
		if count(a.ID) != 0 {
			t.Fatalf("a new content's access_count %d", count(a.ID))
		}
		// Each content once, however often listed; unknown ids ignored.
		if err := s.CountAccess(ctx, []string{a.ID, b.ID, a.ID, newID("nope")}); err != nil {
			t.Fatal(err)
		}
		if err := s.CountAccess(ctx, []string{a.ID}); err != nil {
			t.Fatal(err)
		}
		if count(a.ID) != 2 || count(b.ID) != 1 {
			t.Fatalf("access counts %d and %d, want 2 and 1", count(a.ID), count(b.ID))
		}
		if err := s.CountAccess(ctx, nil); err != nil {
			t.Fatalf("no ids: %v", err)
		}
		// Other fields are untouched.
		if got := mustGetContent(t, s, b.ID); got.UpdatedAt != b.UpdatedAt || got.Status != b.Status {
			t.Fatalf("counting changed the content: %+v", got)
		}
	})

	parallel(t, "Blobs", func(t *testing.T) {
		s := newBackend(t).Knowledge
		b, ok := s.(blobStore)
		if !ok {
			t.Fatalf("%T has no PutBlob, GetBlob, DeleteBlob", s)
		}
		ctx := t.Context()
		all := make([]byte, 256)
		for i := range all {
			all[i] = byte(i)
		}
		big := make([]byte, 3<<20)
		for i := range big {
			big[i] = byte(i * 7)
		}
		for name, data := range map[string][]byte{"every byte": all, "zeros": make([]byte, 64), "empty": {}, "nil": nil, "3 MiB": big} {
			key := newID("blob")
			if err := b.PutBlob(ctx, key, data); err != nil {
				t.Fatalf("PutBlob(%s): %v", name, err)
			}
			got, err := b.GetBlob(ctx, key)
			if err != nil || got == nil || !slices.Equal(got, data) {
				t.Fatalf("GetBlob(%s): %d bytes (nil: %v), %v; want %d bytes", name, len(got), got == nil, err, len(data))
			}
		}
		key := newID("blob")
		if _, err := b.GetBlob(ctx, key); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("GetBlob of a missing key: %v, want ErrNotFound", err)
		}
		if err := b.DeleteBlob(ctx, key); err != nil {
			t.Fatalf("DeleteBlob of a missing key: %v", err)
		}
		if err := b.PutBlob(ctx, key, []byte("one")); err != nil {
			t.Fatal(err)
		}
		if err := b.PutBlob(ctx, key, []byte("two")); err != nil {
			t.Fatal(err)
		}
		if got, err := b.GetBlob(ctx, key); err != nil || string(got) != "two" {
			t.Fatalf("GetBlob after a replace: %q, %v", got, err)
		}
		if err := b.DeleteBlob(ctx, key); err != nil {
			t.Fatal(err)
		}
		if _, err := b.GetBlob(ctx, key); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("GetBlob after DeleteBlob: %v, want ErrNotFound", err)
		}
		// Deleting contents deletes their blobs, and only theirs.
		kb := newID("kb")
		c1, c2, c3 := newContent(kb, "1"), newContent(kb, "2"), newContent(newID("kb"), "3")
		for _, c := range []*knowledge.Content{c1, c2, c3} {
			mustCreateContent(t, s, c)
			if err := b.PutBlob(ctx, c.ID, []byte(c.Name)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DeleteContent(ctx, c1.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := b.GetBlob(ctx, c1.ID); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("the blob of a deleted content: %v, want ErrNotFound", err)
		}
		if _, err := s.DeleteContents(ctx, kb); err != nil {
			t.Fatal(err)
		}
		if _, err := b.GetBlob(ctx, c2.ID); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("the blob of a content deleted with its base: %v, want ErrNotFound", err)
		}
		if got, err := b.GetBlob(ctx, c3.ID); err != nil || string(got) != "3" {
			t.Fatalf("the blob of another base's content: %q, %v", got, err)
		}
	})

	parallel(t, "ConcurrentWritesAndSearches", func(t *testing.T) {
		s := newBackend(t).Knowledge
		ctx, kb := t.Context(), newID("kb")
		const writers, per = 4, 5
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		stop := make(chan struct{})
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range per {
					c := newContent(kb, fmt.Sprintf("w%d-%d", w, i))
					if err := s.CreateContent(ctx, c); err != nil {
						errs <- err
						return
					}
					chunks := []knowledge.Chunk{{Text: "concurrent heron", Embedding: []float32{1, float32(w), float32(i)}}}
					if err := s.CompleteContent(ctx, c.ID, chunks); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		var readers sync.WaitGroup
		for range 2 {
			readers.Add(1)
			go func() {
				defer readers.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := s.SearchVector(ctx, knowledge.Query{KnowledgeID: kb, Vector: []float32{1, 0, 0}, Limit: 100}); err != nil {
						errs <- err
						return
					}
					if _, err := s.SearchKeyword(ctx, knowledge.Query{KnowledgeID: kb, Text: "heron", Limit: 100}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(stop)
		readers.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		// Every write is seen by the searches after it.
		if got := mustVector(t, s, knowledge.Query{KnowledgeID: kb, Vector: []float32{1, 0, 0}, Limit: 100}); len(got) != writers*per {
			t.Fatalf("%d vector hits, want %d", len(got), writers*per)
		}
		if got := mustKeyword(t, s, knowledge.Query{KnowledgeID: kb, Text: "heron", Limit: 100}); len(got) != writers*per {
			t.Fatalf("%d keyword hits, want %d", len(got), writers*per)
		}
	})

	parallel(t, "Isolation", func(t *testing.T) {
		s := newBackend(t).Knowledge
		kb1, kb2 := newID("kb"), newID("kb")
		for _, kb := range []string{kb1, kb2} {
			c := newContent(kb, "c")
			mustCreateContent(t, s, c)
			mustComplete(t, s, c.ID, vecChunks(map[string][]float32{"shared words " + kb: {1, 0}, "more shared words": {0.5, 0.5}}))
		}
		for _, kb := range []string{kb1, kb2} {
			kw := mustKeyword(t, s, knowledge.Query{KnowledgeID: kb, Text: "shared words", Limit: 100})
			vec := mustVector(t, s, knowledge.Query{KnowledgeID: kb, Vector: []float32{1, 0}, Limit: 100})
			for _, h := range append(kw, vec...) {
				if h.KnowledgeID != kb {
					t.Fatalf("a search of %s found a chunk of %s", kb, h.KnowledgeID)
				}
			}
			if len(kw) != 2 || len(vec) != 2 {
				t.Fatalf("%s: %d keyword and %d vector hits, want 2 each", kb, len(kw), len(vec))
			}
		}
		if got := mustKeyword(t, s, knowledge.Query{KnowledgeID: newID("kb"), Text: "shared"}); len(got) != 0 {
			t.Fatalf("an empty base found %v", hitTexts(got))
		}
	})
}

// --- knowledge helpers -------------------------------------------------------

// blobStore is the raw bytes of uploaded contents the knowledge service
// keeps in the store (knowledge.BlobStore).
type blobStore interface {
	PutBlob(ctx context.Context, key string, data []byte) error
	GetBlob(ctx context.Context, key string) ([]byte, error)
	DeleteBlob(ctx context.Context, key string) error
}

func newContent(kb, name string) *knowledge.Content {
	return &knowledge.Content{ID: newID("content"), KnowledgeID: kb, Name: name, Status: knowledge.StatusProcessing,
		CreatedAt: baseTime()}
}

func fullContent(kb string) *knowledge.Content {
	return &knowledge.Content{
		ID: newID("content"), KnowledgeID: kb, Name: `Q3 report — "final" ünïcode; DROP TABLE x; --`,
		Description: "the quarterly report", Type: "application/pdf", Size: 123456, LinkedTo: "https://example.com/q3.pdf",
		Metadata:    map[string]any{"k": "v", "n": float64(2), "nested": map[string]any{"a": []any{"x", true}}},
		AccessCount: 3, Status: knowledge.StatusProcessing, StatusMessage: "reading", CreatedAt: baseTime(),
		UpdatedAt: baseTime() + 5, Hash: newID("sha"), Source: "url", SourceRef: "https://example.com/q3.pdf",
		ReaderID: "pdf", Chunker: "recursive", ChunkSize: 1000, ChunkOverlap: 100,
	}
}

func mustCreateContent(t *testing.T, s knowledge.Store, c *knowledge.Content) {
	t.Helper()
	if err := s.CreateContent(t.Context(), c); err != nil {
		t.Fatalf("CreateContent: %v", err)
	}
}

func mustGetContent(t *testing.T, s knowledge.Store, id string) *knowledge.Content {
	t.Helper()
	c, err := s.GetContent(t.Context(), id)
	if err != nil {
		t.Fatalf("GetContent(%s): %v", id, err)
	}
	return c
}

func mustComplete(t *testing.T, s knowledge.Store, id string, chunks []knowledge.Chunk) {
	t.Helper()
	if err := s.CompleteContent(t.Context(), id, chunks); err != nil {
		t.Fatalf("CompleteContent(%s): %v", id, err)
	}
}

func assertContent(t *testing.T, want, got *knowledge.Content) {
	t.Helper()
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("content:\n got %+v\nwant %+v", got, want)
	}
}

// textChunks are chunks of texts, without embeddings.
func textChunks(texts ...string) []knowledge.Chunk {
	out := make([]knowledge.Chunk, len(texts))
	for i, text := range texts {
		out[i] = knowledge.Chunk{Index: i, Name: "chunk", Text: text, Metadata: map[string]any{"i": float64(i)}}
	}
	return out
}

// vecChunks are chunks of texts with their embeddings (in text order).
func vecChunks(vecs map[string][]float32) []knowledge.Chunk {
	texts := make([]string, 0, len(vecs))
	for text := range vecs {
		texts = append(texts, text)
	}
	slices.Sort(texts)
	out := textChunks(texts...)
	for i := range out {
		out[i].Embedding = vecs[out[i].Text]
	}
	return out
}

func mustKeyword(t *testing.T, s knowledge.Store, q knowledge.Query) []knowledge.Hit {
	t.Helper()
	hits, err := s.SearchKeyword(t.Context(), q)
	if err != nil {
		t.Fatalf("SearchKeyword(%q): %v", q.Text, err)
	}
	return hits
}

func mustVector(t *testing.T, s knowledge.Store, q knowledge.Query) []knowledge.Hit {
	t.Helper()
	hits, err := s.SearchVector(t.Context(), q)
	if err != nil {
		t.Fatalf("SearchVector(%v): %v", q.Vector, err)
	}
	return hits
}

// wantKeyword asserts the texts a keyword search of kb finds, in order.
func wantKeyword(t *testing.T, s knowledge.Store, kb, text string, want []string) []knowledge.Hit {
	t.Helper()
	hits := mustKeyword(t, s, knowledge.Query{KnowledgeID: kb, Text: text, Limit: 100})
	if got := hitTexts(hits); !slices.Equal(got, want) {
		t.Fatalf("keyword search %q: %q, want %q", text, got, want)
	}
	return hits
}

// wantVector asserts the texts a vector search of kb finds, in order.
func wantVector(t *testing.T, s knowledge.Store, kb string, v []float32, want []string) []knowledge.Hit {
	t.Helper()
	hits := mustVector(t, s, knowledge.Query{KnowledgeID: kb, Vector: v, Limit: 100})
	if got := hitTexts(hits); !slices.Equal(got, want) {
		t.Fatalf("vector search %v: %q, want %q", v, got, want)
	}
	return hits
}

func hitTexts(hits []knowledge.Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Text)
	}
	return out
}

func contentIDs(cs []knowledge.Content) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func contentNames(cs []knowledge.Content) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}
