package postgres_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core/knowledge"
	"github.com/agentgate/agentgate/storage/postgres"
)

// TestKnowledgeVectorTables checks the tables the store creates for
// embeddings (one per dimension, with its HNSW index), that deleting a
// content deletes its vectors, and that migrating below 00011 drops them so
// the schema can come back up and take vectors again. Without pgvector it
// fails.
func TestKnowledgeVectorTables(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openFresh(t)
	complete := func(kb string, vecs ...[]float32) *knowledge.Content {
		t.Helper()
		c := &knowledge.Content{ID: "c-" + kb, KnowledgeID: kb, Status: knowledge.StatusProcessing}
		if err := s.CreateContent(ctx, c); err != nil {
			t.Fatal(err)
		}
		var chunks []knowledge.Chunk
		for i, v := range vecs {
			chunks = append(chunks, knowledge.Chunk{Index: i, Text: "chunk", Embedding: v})
		}
		if err := s.CompleteContent(ctx, c.ID, chunks); err != nil {
			t.Fatalf("CompleteContent: %v", err)
		}
		return c
	}
	count := func(table string) int {
		t.Helper()
		var n int
		if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	a := complete("kb1", []float32{1, 0, 0}, []float32{0, 1, 0})
	complete("kb2", []float32{1, 0, 0, 0})
	if got := tables(t, s); !slices.Contains(got, "knowledge_vectors_3") || !slices.Contains(got, "knowledge_vectors_4") {
		t.Fatalf("tables %v: want knowledge_vectors_3 and _4", got)
	}
	var def string
	if err := s.Pool().QueryRow(ctx, `SELECT indexdef FROM pg_indexes
		WHERE schemaname = current_schema() AND indexname = 'knowledge_vectors_3_hnsw_idx'`).Scan(&def); err != nil {
		t.Fatalf("the HNSW index: %v", err)
	}
	if !strings.Contains(def, "hnsw") || !strings.Contains(def, "vector_cosine_ops") {
		t.Fatalf("index %s", def)
	}
	if n := count("knowledge_vectors_3"); n != 2 {
		t.Fatalf("%d vectors, want 2", n)
	}
	if err := s.DeleteContent(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if n := count("knowledge_vectors_3"); n != 0 {
		t.Fatalf("%d vectors after the delete, want 0", n)
	}

	if err := s.Migrate(ctx, 8); err != nil {
		t.Fatalf("Migrate(8): %v", err)
	}
	for _, tb := range tables(t, s) {
		if strings.HasPrefix(tb, "knowledge") {
			t.Fatalf("table %s survived the migration down", tb)
		}
	}
	if err := s.Migrate(ctx, postgres.Latest); err != nil {
		t.Fatalf("Migrate(Latest): %v", err)
	}
	complete("kb3", []float32{0, 0, 1})
	hits, err := s.SearchVector(ctx, knowledge.Query{KnowledgeID: "kb3", Vector: []float32{0, 0.1, 1}})
	if err != nil || len(hits) != 1 || hits[0].ContentID != "c-kb3" {
		t.Fatalf("SearchVector after the migrations: %+v, %v", hits, err)
	}
}
