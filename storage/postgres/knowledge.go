package postgres

// The knowledge group's searches on PostgreSQL (its CRUD is
// storage/sqlstore's Knowledge): keyword search on the chunks' generated
// tsvector (english) with its GIN index, ranked by ts_rank_cd; vector
// search with pgvector.
//
// # Vectors and pgvector
//
// The schema (migration 00011) uses no extension, so a server without
// pgvector serves keyword search. Embeddings live in one table per
// dimension, knowledge_vectors_<N> (chunk_seq → knowledge_chunks.seq ON
// DELETE CASCADE, knowledge_id, embedding vector(N)), with an HNSW index
// (vector_cosine_ops; up to 2,000 dimensions, pgvector's limit for it:
// longer vectors are compared exactly, without an index) and a btree on
// knowledge_id. The first content completed with embeddings of a
// dimension creates that table, and the extension (CREATE EXTENSION IF NOT
// EXISTS vector, in schema public when there is one), in a transaction
// before the one writing the chunks, under an advisory lock. Searches run with hnsw.iterative_scan =
// strict_order (pgvector 0.8), so a base's chunks are found in order even
// when the index holds many bases.
//
// A vector write or search on a server whose PostgreSQL lacks pgvector is
// an error wrapping core.ErrUnavailable that says so and how to install
// it (errNoPgvector).

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/knowledge"
	"github.com/agentgate/agentgate/storage/sqlstore"
)

// hnswEfSearch is the size of the HNSW scan's candidate list for a search
// of up to 50 results (pgvector's default, 40, finds about half of the
// true 10 nearest among 10k random 384-dimension vectors; 200 finds
// nearly all of them, measured by bench/cmd/kbench).
const hnswEfSearch = 200

// HNSWEfSearch is the hnsw.ef_search a vector search for limit results
// runs with: hnswEfSearch, or 4×limit for longer lists, at most 1000
// (pgvector's bound).
func HNSWEfSearch(limit int) int { return min(max(hnswEfSearch, 4*limit), 1000) }

// hnswMaxDims is the longest vector pgvector's HNSW index takes.
const hnswMaxDims = 2000

// vectorDDLLock is the advisory lock key under which the extension and the
// vector tables are created.
const vectorDDLLock = 0x6b6e6f776c656467 // "knowledg"

// pgvectorHelp says how to install pgvector.
const pgvectorHelp = "vector search on PostgreSQL needs the pgvector extension (https://github.com/pgvector/pgvector): " +
	"install it on the database server (Debian/Ubuntu: apt-get install postgresql-<major>-pgvector; " +
	"from source: scripts/pgvector.sh), then let the store run CREATE EXTENSION vector " +
	"(or run it yourself as a superuser)"

// errNoPgvector is a vector write or search on a server lacking pgvector.
func errNoPgvector(err error) error {
	msg := "postgres: this server has no pgvector extension: " + pgvectorHelp
	if err != nil {
		msg = "postgres: cannot create the pgvector extension (" + err.Error() + "): " + pgvectorHelp
	}
	return &core.Error{Code: core.CodeUnavailable, Message: msg, Err: err}
}

// knowledgeStore is knowledge.Store on PostgreSQL.
type knowledgeStore struct {
	*sqlstore.Knowledge
	st *Store
	// tables: dimension → the schema of pgvector, for the dimensions
	// whose vector table exists (seen by a search).
	tables sync.Map
}

var _ knowledge.Store = (*knowledgeStore)(nil)

func newKnowledge(st *Store) *knowledgeStore {
	k := &knowledgeStore{st: st}
	k.Knowledge = sqlstore.NewKnowledge(st.sql, knowledgeEngine{k})
	return k
}

type knowledgeEngine struct{ k *knowledgeStore }

// vectorTable is the table of the embeddings of dim dimensions.
func vectorTable(dim int) string { return "knowledge_vectors_" + strconv.Itoa(dim) }

// vectorText is v in pgvector's text form.
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

// InsertChunks inserts the chunks and, when they have embeddings, their
// vectors (creating the dimension's table first).
func (e knowledgeEngine) InsertChunks(ctx context.Context, q sqlstore.Querier, kb string, chunks []knowledge.Chunk) error {
	seqs, err := e.k.InsertChunkRows(ctx, q, chunks, nil, nil)
	if err != nil || len(chunks) == 0 || chunks[0].Embedding == nil {
		return err
	}
	dim := len(chunks[0].Embedding)
	ext, table, err := vectorState(ctx, q, dim)
	switch {
	case err != nil:
		return err
	case ext == "":
		return errNoPgvector(nil)
	case !table:
		return fmt.Errorf("the table %s of the vectors was dropped during the write", vectorTable(dim))
	}
	cast := "CAST(? AS " + pgx.Identifier{ext, "vector"}.Sanitize() + ")"
	const per = 500
	for start := 0; start < len(chunks); start += per {
		batch := chunks[start:min(start+per, len(chunks))]
		var b strings.Builder
		b.WriteString(`INSERT INTO ` + vectorTable(dim) + ` (chunk_seq, knowledge_id, embedding) VALUES `)
		args := make([]any, 0, 3*len(batch))
		for i := range batch {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, " + cast + ")")
			args = append(args, seqs[batch[i].ID], kb, vectorText(batch[i].Embedding))
		}
		if _, err := q.Exec(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// Prepare creates the extension and the vector table the chunks need, in a
// transaction of its own: creating a table that references
// knowledge_chunks waits for the transactions writing chunks, so it must
// not run inside one.
func (e knowledgeEngine) Prepare(ctx context.Context, chunks []knowledge.Chunk) error {
	if len(chunks) == 0 || chunks[0].Embedding == nil {
		return nil
	}
	return pgx.BeginFunc(ctx, e.k.st.pool, func(tx pgx.Tx) error {
		_, err := ensureVectors(ctx, sqlstore.Bind(dialect, querier{tx}), len(chunks[0].Embedding))
		return err
	})
}

func (knowledgeEngine) Changed(string, string) {}

// vectorState reads the schema of the vector extension ("" when it is not
// installed) and whether the table of dim exists.
func vectorState(ctx context.Context, q sqlstore.Querier, dim int) (ext string, table bool, err error) {
	var schema *string
	err = q.QueryRow(ctx, `SELECT (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
		WHERE e.extname = 'vector'), to_regclass(?) IS NOT NULL`, vectorTable(dim)).Scan(&schema, &table)
	if schema != nil {
		ext = *schema
	}
	return ext, table, err
}

// ensureVectors makes sure the extension and the table of dim exist (in
// q's transaction, which must not have written chunks) and returns the
// extension's schema.
func ensureVectors(ctx context.Context, q sqlstore.Querier, dim int) (string, error) {
	ext, table, err := vectorState(ctx, q, dim)
	if err != nil || (ext != "" && table) {
		return ext, err
	}
	if _, err := q.Exec(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(vectorDDLLock)); err != nil {
		return "", err
	}
	if ext, table, err = vectorState(ctx, q, dim); err != nil {
		return "", err
	}
	if ext == "" {
		var available, public bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector'),
			EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public')`).Scan(&available, &public); err != nil {
			return "", err
		}
		if !available {
			return "", errNoPgvector(nil)
		}
		create := `CREATE EXTENSION IF NOT EXISTS vector`
		if public {
			create += ` SCHEMA public`
		}
		if _, err := q.Exec(ctx, create); err != nil {
			return "", errNoPgvector(err)
		}
		if ext, table, err = vectorState(ctx, q, dim); err != nil {
			return "", err
		}
	}
	if table {
		return ext, nil
	}
	t := vectorTable(dim)
	vec := pgx.Identifier{ext, "vector"}.Sanitize()
	if _, err := q.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+t+` (
		chunk_seq    BIGINT PRIMARY KEY REFERENCES knowledge_chunks (seq) ON DELETE CASCADE,
		knowledge_id TEXT   NOT NULL,
		embedding    `+vec+`(`+strconv.Itoa(dim)+`) NOT NULL)`); err != nil {
		return "", err
	}
	if _, err := q.Exec(ctx, `CREATE INDEX IF NOT EXISTS `+t+`_base_idx ON `+t+` (knowledge_id)`); err != nil {
		return "", err
	}
	if dim <= hnswMaxDims {
		ops := pgx.Identifier{ext, "vector_cosine_ops"}.Sanitize()
		if _, err := q.Exec(ctx, `CREATE INDEX IF NOT EXISTS `+t+`_hnsw_idx ON `+t+` USING hnsw (embedding `+ops+`)`); err != nil {
			return "", err
		}
	}
	return ext, nil
}

// SearchKeyword ranks the base's searchable chunks holding any term of
// q.Text by ts_rank_cd.
func (k *knowledgeStore) SearchKeyword(ctx context.Context, q knowledge.Query) ([]knowledge.Hit, error) {
	terms := sqlstore.SearchTerms(q.Text)
	if len(terms) == 0 {
		return []knowledge.Hit{}, nil
	}
	filter, fargs, err := k.Filters(q.Filter)
	if err != nil {
		return nil, err
	}
	// Any of the terms, each quoted (letters and digits only: no operator).
	query := `"` + strings.Join(terms, `" or "`) + `"`
	args := append([]any{query, q.KnowledgeID}, fargs...)
	args = append(args, sqlstore.SearchLimit(q))
	var hits []knowledge.Hit
	err = k.DB().ReadStmt(ctx, func(ctx context.Context, qr sqlstore.Querier) error {
		var err error
		hits, err = k.CollectHits(ctx, qr, `SELECT `+sqlstore.ChunkSelect+`, ts_rank_cd(ch.tsv, tq) AS score
			FROM knowledge_chunks ch
			JOIN knowledge_contents co ON co.id = ch.content_id
			CROSS JOIN websearch_to_tsquery('english', ?) tq
			WHERE ch.tsv @@ tq AND ch.knowledge_id = ? AND co.status = 'completed'`+filter+`
			ORDER BY score DESC, ch.seq LIMIT ?`, args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: keyword search of knowledge base %q: %w", q.KnowledgeID, dbErr(ctx, err))
	}
	return hits, nil
}

// SearchVector ranks the base's searchable chunks by cosine similarity to
// q.Vector (pgvector, HNSW).
func (k *knowledgeStore) SearchVector(ctx context.Context, q knowledge.Query) ([]knowledge.Hit, error) {
	if err := sqlstore.CheckVector(q.Vector); err != nil {
		return nil, err
	}
	filter, fargs, err := k.Filters(q.Filter)
	if err != nil {
		return nil, err
	}
	hits, err := k.searchVector(ctx, q, filter, fargs)
	if isUndefinedTable(err) { // dropped since we saw it (a migration down): look again
		k.tables.Delete(len(q.Vector))
		hits, err = k.searchVector(ctx, q, filter, fargs)
	}
	var ce *core.Error
	if errors.As(err, &ce) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: vector search of knowledge base %q: %w", q.KnowledgeID, dbErr(ctx, err))
	}
	return hits, nil
}

// searchVector runs a vector search in one round trip: a read-only
// transaction setting the HNSW scan's parameters, and the query. The
// extension's schema is remembered per dimension once its table exists.
func (k *knowledgeStore) searchVector(ctx context.Context, q knowledge.Query, filter string, fargs []any) ([]knowledge.Hit, error) {
	dim := len(q.Vector)
	limit := sqlstore.SearchLimit(q)
	ext, ok := k.tables.Load(dim)
	if !ok {
		schema, table, err := vectorState(ctx, sqlstore.Bind(dialect, querier{k.st.pool}), dim)
		switch {
		case err != nil:
			return nil, err
		case schema == "":
			return nil, errNoPgvector(nil)
		case !table: // no embedding of this length was ever written
			return []knowledge.Hit{}, nil
		}
		k.tables.Store(dim, schema)
		ext = schema
	}
	schema := ext.(string)
	vec := vectorText(q.Vector)
	cast := "CAST(? AS " + pgx.Identifier{schema, "vector"}.Sanitize() + ")"
	op := "OPERATOR(" + pgx.Identifier{schema}.Sanitize() + ".<=>)"
	args := append([]any{vec, q.KnowledgeID}, fargs...)
	args = append(args, vec, limit)
	for i, a := range args {
		args[i] = pgArg(a)
	}
	query := dialect.Rebind(`SELECT ` + sqlstore.ChunkSelect + `, 1 - (v.embedding ` + op + ` ` + cast + `) AS score
		FROM ` + vectorTable(dim) + ` v
		JOIN knowledge_chunks ch ON ch.seq = v.chunk_seq
		JOIN knowledge_contents co ON co.id = ch.content_id
		WHERE v.knowledge_id = ? AND co.status = 'completed'` + filter + `
		ORDER BY v.embedding ` + op + ` ` + cast + ` LIMIT ?`)
	b := &pgx.Batch{}
	b.Queue(`BEGIN READ ONLY`)
	b.Queue(`SELECT set_config('hnsw.iterative_scan', 'strict_order', true), set_config('hnsw.ef_search', $1, true)`,
		strconv.Itoa(HNSWEfSearch(limit)))
	b.Queue(query, args...)
	b.Queue(`COMMIT`)
	br := k.st.pool.SendBatch(ctx, b)
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
	hits := []knowledge.Hit{}
	for rows.Next() {
		h, err := k.ScanHit(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		hits = append(hits, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if _, err := br.Exec(); err != nil {
		return nil, err
	}
	return hits, br.Close()
}

// isUndefinedTable reports whether err is undefined_table.
func isUndefinedTable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42P01"
}
