package main

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agentgate/agentgate/core/knowledge"
	"github.com/agentgate/agentgate/storage/postgres"
	"github.com/agentgate/agentgate/storage/postgres/pgtest"
	"github.com/agentgate/agentgate/storage/sqlite"
	"github.com/agentgate/agentgate/storage/sqlstore"
)

// target is one backend: the store and its bare baseline. Searches return
// the chunk numbers found, best first.
type target interface {
	ingest(ctx context.Context, content string, chunks []chunk) error
	ingestBare(ctx context.Context, content string, chunks []chunk) error
	search(ctx context.Context, kind string, q query) ([]int, error)
	searchBare(ctx context.Context, kind string, q query) ([]int, error)
	close() error
}

const benchKB = "bench"

// storeTarget is the knowledge.Store half of a target.
type storeTarget struct{ s knowledge.Store }

func (t storeTarget) ingest(ctx context.Context, content string, chunks []chunk) error {
	if err := t.s.CreateContent(ctx, &knowledge.Content{ID: content, KnowledgeID: benchKB, Name: content,
		Status: knowledge.StatusProcessing, CreatedAt: time.Now().Unix()}); err != nil {
		return err
	}
	kc := make([]knowledge.Chunk, len(chunks))
	for i, c := range chunks {
		kc[i] = knowledge.Chunk{ID: "chunk-" + strconv.Itoa(c.n), Index: i, Text: c.text, Embedding: c.embedding,
			Metadata: map[string]any{"n": c.n}}
	}
	return t.s.CompleteContent(ctx, content, kc)
}

func (t storeTarget) search(ctx context.Context, kind string, q query) ([]int, error) {
	kq := knowledge.Query{KnowledgeID: benchKB, Text: q.text, Vector: q.vector, Limit: 10}
	ids := func(hits []knowledge.Hit, err error) ([]int, error) {
		if err != nil {
			return nil, err
		}
		out := make([]int, len(hits))
		for i, h := range hits {
			if out[i], err = strconv.Atoi(strings.TrimPrefix(h.ID, "chunk-")); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	switch kind {
	case "keyword":
		return ids(t.s.SearchKeyword(ctx, kq))
	case "vector":
		return ids(t.s.SearchVector(ctx, kq))
	}
	kw, err := ids(t.s.SearchKeyword(ctx, kq))
	if err != nil {
		return nil, err
	}
	vec, err := ids(t.s.SearchVector(ctx, kq))
	if err != nil {
		return nil, err
	}
	return rrf(10, kw, vec), nil
}

// bareHybrid fuses two bare searches.
func bareHybrid(ctx context.Context, kind string, q query, search func(context.Context, string, query) ([]int, error)) ([]int, error) {
	kw, err := search(ctx, "keyword", q)
	if err != nil {
		return nil, err
	}
	vec, err := search(ctx, "vector", q)
	if err != nil {
		return nil, err
	}
	return rrf(10, kw, vec), nil
}

// ftsQuery is the FTS5 query the store builds: any term, each quoted.
func ftsQuery(text string) string {
	terms := sqlstore.SearchTerms(text)
	return `"` + strings.Join(terms, `" OR "`) + `"`
}

// --- SQLite --------------------------------------------------------------------

type sqliteTarget struct {
	storeTarget
	st   *sqlite.Store
	bare *sql.DB
	c    *corpus // what the in-process baseline scans
	size int     // chunks ingested into the baseline
}

func newSQLiteTarget(ctx context.Context, path, barePath string, _ int) (*sqliteTarget, error) {
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	bare, err := sqlite.OpenDB(ctx, barePath)
	if err != nil {
		return nil, errors.Join(err, st.Close())
	}
	for _, stmt := range []string{
		`CREATE TABLE bare_chunks (n INTEGER PRIMARY KEY, text TEXT NOT NULL, embedding BLOB)`,
		`CREATE VIRTUAL TABLE bare_fts USING fts5(text, content = 'bare_chunks', content_rowid = 'n',
			tokenize = 'porter unicode61 remove_diacritics 2')`,
		`CREATE TRIGGER bare_fts_insert AFTER INSERT ON bare_chunks BEGIN
			INSERT INTO bare_fts (rowid, text) VALUES (new.n, new.text); END`,
	} {
		if _, err := bare.ExecContext(ctx, stmt); err != nil {
			return nil, errors.Join(err, st.Close(), bare.Close())
		}
	}
	return &sqliteTarget{storeTarget: storeTarget{st}, st: st, bare: bare}, nil
}

func (t *sqliteTarget) close() error { return errors.Join(t.st.Close(), t.bare.Close()) }

func (t *sqliteTarget) ingest(ctx context.Context, content string, chunks []chunk) error {
	return t.storeTarget.ingest(ctx, content, chunks)
}

func (t *sqliteTarget) ingestBare(ctx context.Context, _ string, chunks []chunk) error {
	tx, err := t.bare.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var b strings.Builder
	b.WriteString(`INSERT INTO bare_chunks (n, text, embedding) VALUES `)
	args := make([]any, 0, 3*len(chunks))
	for i, c := range chunks {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?)")
		blob := make([]byte, 4*len(c.embedding))
		for j, x := range c.embedding {
			binary.LittleEndian.PutUint32(blob[4*j:], math.Float32bits(x))
		}
		args = append(args, c.n, c.text, blob)
	}
	if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if last := chunks[len(chunks)-1].n + 1; last > t.size {
		t.size = last
	}
	return nil
}

func (t *sqliteTarget) withCorpus(c *corpus) { t.c = c }

func (t *sqliteTarget) searchBare(ctx context.Context, kind string, q query) ([]int, error) {
	switch kind {
	case "keyword":
		rows, err := t.bare.QueryContext(ctx, `SELECT c.n, c.text FROM bare_fts JOIN bare_chunks c ON c.n = bare_fts.rowid
			WHERE bare_fts MATCH ? ORDER BY bm25(bare_fts) LIMIT 10`, ftsQuery(q.text))
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []int
		for rows.Next() {
			var n int
			var text string
			if err := rows.Scan(&n, &text); err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, rows.Err()
	case "vector":
		return t.c.exact(q.vector, t.size, 10), nil
	}
	return bareHybrid(ctx, kind, q, t.searchBare)
}

// coldVector times the base's first vector search (which decodes every
// embedding), then the first after a content's write (which decodes that
// content's again).
func (t *sqliteTarget) coldVector(ctx context.Context, v []float32) (first, afterWrite time.Duration, err error) {
	search := func() (time.Duration, error) {
		start := time.Now()
		_, err := t.st.SearchVector(ctx, knowledge.Query{KnowledgeID: benchKB, Vector: v, Limit: 10})
		return time.Since(start), err
	}
	if first, err = search(); err != nil {
		return 0, 0, err
	}
	id := "cold-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	if err := t.st.CreateContent(ctx, &knowledge.Content{ID: id, KnowledgeID: benchKB, Status: knowledge.StatusProcessing}); err != nil {
		return 0, 0, err
	}
	if err := t.st.CompleteContent(ctx, id, []knowledge.Chunk{{Text: "cold", Embedding: v}}); err != nil {
		return 0, 0, err
	}
	if afterWrite, err = search(); err != nil {
		return 0, 0, err
	}
	return first, afterWrite, t.st.DeleteContent(ctx, id)
}

// --- PostgreSQL ------------------------------------------------------------------

type postgresTarget struct {
	storeTarget
	st   *postgres.Store
	drop func() error
	ext  string // the schema of pgvector
	dims int
}

func newPostgresTarget(ctx context.Context, dims int) (*postgresTarget, error) {
	url, drop, err := pgtest.NewSchema(ctx)
	if err != nil {
		return nil, err
	}
	st, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, errors.Join(err, drop())
	}
	t := &postgresTarget{storeTarget: storeTarget{st}, st: st, drop: drop, dims: dims}
	p := st.Pool()
	if _, err := p.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS vector SCHEMA public`); err != nil {
		return nil, errors.Join(fmt.Errorf("pgvector (scripts/pgvector.sh installs it): %w", err), t.close())
	}
	if err := p.QueryRow(ctx, `SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
		WHERE e.extname = 'vector'`).Scan(&t.ext); err != nil {
		return nil, errors.Join(err, t.close())
	}
	vec := pgx.Identifier{t.ext, "vector"}.Sanitize()
	ops := pgx.Identifier{t.ext, "vector_cosine_ops"}.Sanitize()
	for _, stmt := range []string{
		`CREATE TABLE bare_chunks (n BIGINT PRIMARY KEY, text TEXT NOT NULL,
			tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
			embedding ` + vec + `(` + strconv.Itoa(dims) + `) NOT NULL)`,
		`CREATE INDEX bare_chunks_tsv ON bare_chunks USING gin (tsv)`,
		`CREATE INDEX bare_chunks_hnsw ON bare_chunks USING hnsw (embedding ` + ops + `)`,
	} {
		if _, err := p.Exec(ctx, stmt); err != nil {
			return nil, errors.Join(err, t.close())
		}
	}
	return t, nil
}

// analyze refreshes the planner's statistics of every table (the store's
// and the baseline's), as autovacuum does within a minute or so of a bulk
// load: measuring right after one, without them, measures plans made
// blind.
func (t *postgresTarget) analyze(ctx context.Context) error {
	_, err := t.st.Pool().Exec(ctx, `ANALYZE`)
	return err
}

func (t *postgresTarget) close() error { t.st.Close(); return t.drop() }

func vectorText(v []float32) string {
	b := make([]byte, 0, 12*len(v)+2)
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(x), 'g', -1, 32)
	}
	return string(append(b, ']'))
}

func (t *postgresTarget) ingestBare(ctx context.Context, _ string, chunks []chunk) error {
	return pgx.BeginFunc(ctx, t.st.Pool(), func(tx pgx.Tx) error {
		var b strings.Builder
		b.WriteString(`INSERT INTO bare_chunks (n, text, embedding) VALUES `)
		args := make([]any, 0, 3*len(chunks))
		for i, c := range chunks {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "($%d, $%d, $%d::%s)", 3*i+1, 3*i+2, 3*i+3, pgx.Identifier{t.ext, "vector"}.Sanitize())
			args = append(args, c.n, c.text, vectorText(c.embedding))
		}
		_, err := tx.Exec(ctx, b.String(), args...)
		return err
	})
}

func (t *postgresTarget) searchBare(ctx context.Context, kind string, q query) ([]int, error) {
	var sqlText string
	var arg any
	switch kind {
	case "keyword":
		terms := sqlstore.SearchTerms(q.text)
		sqlText, arg = `SELECT n, text FROM bare_chunks, websearch_to_tsquery('english', $1) q WHERE tsv @@ q
			ORDER BY ts_rank_cd(tsv, q) DESC LIMIT 10`, `"`+strings.Join(terms, `" or "`)+`"`
	case "vector":
		sqlText = `SELECT n, text FROM bare_chunks ORDER BY embedding OPERATOR(` + pgx.Identifier{t.ext}.Sanitize() +
			`.<=>) $1::` + pgx.Identifier{t.ext, "vector"}.Sanitize() + ` LIMIT 10`
		arg = vectorText(q.vector)
	default:
		return bareHybrid(ctx, kind, q, t.searchBare)
	}
	// The same scan settings as the store's search (ef_search for 10
	// results), in the same one round trip, so the two differ only in
	// what the store adds.
	b := &pgx.Batch{}
	b.Queue(`BEGIN READ ONLY`)
	// enable_seqscan off: the planner would scan a small table whole
	// (exact, and no baseline of an HNSW search).
	b.Queue(`SELECT set_config('hnsw.ef_search', $1, true), set_config('enable_seqscan', 'off', true)`, strconv.Itoa(postgres.HNSWEfSearch(10)))
	b.Queue(sqlText, arg)
	b.Queue(`COMMIT`)
	br := t.st.Pool().SendBatch(ctx, b)
	defer br.Close()
	for range 2 {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var n int
		var text string
		if err := rows.Scan(&n, &text); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
