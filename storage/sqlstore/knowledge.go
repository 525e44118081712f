package sqlstore

// The knowledge group's store (core/knowledge.Store) as far as it is plain
// SQL, written once for both dialects: contents, their chunks, the atomic
// completion that replaces a content's chunks, and the pieces the
// backends' searches share (metadata filters, search terms, the hit scan).
// The searches themselves are the backends' (FTS5 and an in-process scan on
// SQLite, tsvector and pgvector on PostgreSQL): see KnowledgeEngine.

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/knowledge"
)

var (
	contentColumns = Columns{"id", "knowledge_id", "name", "description", "type", "size", "linked_to", "metadata",
		"access_count", "status", "status_message", "created_at", "updated_at", "hash", "source", "source_ref",
		"reader_id", "chunker", "chunk_size", "chunk_overlap"}
	chunkColumns = Columns{"id", "content_id", "knowledge_id", "idx", "name", "text", "metadata"}
)

// ChunkSelect is the chunk columns a search selects, on the chunks aliased
// ch, in the order ScanHit reads them (before the score).
const ChunkSelect = "ch.id, ch.content_id, ch.knowledge_id, ch.idx, ch.name, ch.text, ch.metadata"

// Search bounds.
const (
	// DefaultSearchLimit is a search's limit when the query gives none.
	DefaultSearchLimit = 10
	// MaxSearchLimit bounds a search's limit.
	MaxSearchLimit = 1000
	// MaxSearchTerms bounds the terms of a keyword search.
	MaxSearchTerms = 64
	// MaxDimensions bounds an embedding's length (pgvector's vector type
	// stores up to 16,000).
	MaxDimensions = 16000
)

// KnowledgeEngine is what a backend does its own way for knowledge: how
// chunks are inserted (with their embedding column on SQLite, with a vector
// table on PostgreSQL) and what it learns of a committed change.
type KnowledgeEngine interface {
	// Prepare runs before the transaction of CompleteContent, outside it:
	// what the chunks need to exist first (PostgreSQL: the vector table of
	// their dimension, whose creation would deadlock with the writes of
	// other completions if done inside one).
	Prepare(ctx context.Context, chunks []knowledge.Chunk) error
	// InsertChunks inserts chunks (validated, ids set, of knowledgeID)
	// inside the transaction of q. It may run again (see Conn.Write).
	InsertChunks(ctx context.Context, q Querier, knowledgeID string, chunks []knowledge.Chunk) error
	// Changed is told, after the commit, that the searchable chunks of a
	// content of a knowledge base may have changed (contentID "": of any
	// content of the base).
	Changed(knowledgeID, contentID string)
}

// Knowledge implements knowledge.Store but its searches on a backend's
// knowledge_contents and knowledge_chunks tables. A backend embeds it (and
// adds SearchKeyword and SearchVector).
type Knowledge struct {
	db  *DB
	eng KnowledgeEngine
}

// NewKnowledge returns the knowledge store of db.
func NewKnowledge(db *DB, eng KnowledgeEngine) *Knowledge { return &Knowledge{db: db, eng: eng} }

// DB is the store's database.
func (k *Knowledge) DB() *DB { return k.db }

func (k *Knowledge) scanContent(row Row, extra ...any) (knowledge.Content, error) {
	var (
		c knowledge.Content
		f Fields
	)
	f.Add(&c.ID, &c.KnowledgeID, &c.Name, &c.Description, &c.Type, &c.Size, &c.LinkedTo)
	f.JSON(k.db.d, "metadata", &c.Metadata)
	f.Add(&c.AccessCount, &c.Status, &c.StatusMessage, &c.CreatedAt, &c.UpdatedAt, &c.Hash, &c.Source, &c.SourceRef,
		&c.ReaderID, &c.Chunker, &c.ChunkSize, &c.ChunkOverlap)
	err := f.Scan(row, extra...)
	return c, err
}

// CreateContent inserts c; a taken id, or the hash of a processing or
// completed content of the same base, is core.ErrConflict.
func (k *Knowledge) CreateContent(ctx context.Context, c *knowledge.Content) error {
	name := k.db.d.Name
	if c == nil || c.ID == "" || c.KnowledgeID == "" {
		return invalidf("%s: create content: id and knowledge_id are required", name)
	}
	if c.Status == "" {
		c.Status = knowledge.StatusProcessing
	}
	meta, err := EncodeJSON(k.db.d, "metadata", c.Metadata)
	if err != nil {
		return err
	}
	vals := []any{c.ID, c.KnowledgeID, c.Name, c.Description, c.Type, c.Size, c.LinkedTo, meta, c.AccessCount,
		c.Status, c.StatusMessage, c.CreatedAt, c.UpdatedAt, c.Hash, c.Source, c.SourceRef, c.ReaderID, c.Chunker,
		c.ChunkSize, c.ChunkOverlap}
	var n int64
	err = k.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `INSERT INTO knowledge_contents (`+contentColumns.String()+`) VALUES (`+
			contentColumns.Placeholders()+`) ON CONFLICT DO NOTHING`, vals...)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: create content %q: %w", name, c.ID, k.db.Err(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("content %q (or one of knowledge base %q with the same hash) already exists: %w",
			c.ID, c.KnowledgeID, core.ErrConflict)
	}
	return nil
}

// getContent reads one content where cond (with args) holds.
func (k *Knowledge) getContent(ctx context.Context, what, cond string, args ...any) (*knowledge.Content, error) {
	var c knowledge.Content
	err := k.db.ReadStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		c, err = k.scanContent(q.QueryRow(ctx, `SELECT `+contentColumns.String()+` FROM knowledge_contents WHERE `+
			cond, args...))
		return err
	})
	if isNoRows(err) {
		return nil, fmt.Errorf("%s: %w", what, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: get %s: %w", k.db.d.Name, what, k.db.Err(ctx, err))
	}
	return &c, nil
}

// FilterKeys lists the distinct top-level keys of the metadata of the
// base's contents, sorted, at most knowledge.MaxFilterKeys.
func (k *Knowledge) FilterKeys(ctx context.Context, knowledgeID string) ([]string, error) {
	q := `SELECT DISTINCT je.key FROM knowledge_contents co, json_each(co.metadata) je
		WHERE co.knowledge_id = ? AND json_type(co.metadata) = 'object' ORDER BY je.key LIMIT ?`
	if k.db.d.Engine == Postgres {
		q = `SELECT DISTINCT je.key COLLATE "C" FROM knowledge_contents co,
			jsonb_each(CASE WHEN jsonb_typeof(co.metadata) = 'object' THEN co.metadata ELSE '{}'::jsonb END) je
			WHERE co.knowledge_id = ? ORDER BY 1 LIMIT ?`
	}
	out := []string{}
	err := k.db.ReadStmt(ctx, func(ctx context.Context, qr Querier) error {
		out = out[:0]
		rows, err := qr.Query(ctx, q, knowledgeID, knowledge.MaxFilterKeys)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var key string
			if err := rows.Scan(&key); err != nil {
				return err
			}
			out = append(out, key)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("%s: filter keys of knowledge base %q: %w", k.db.d.Name, knowledgeID, k.db.Err(ctx, err))
	}
	return out, nil
}

// CountAccess adds one to the access_count of the contents of ids (each
// once), in one statement.
func (k *Knowledge) CountAccess(ctx context.Context, ids []string) error {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(ids) == 0 {
		return nil
	}
	if len(ids) > MaxSearchLimit {
		return invalidf("%s: count access: %d contents, at most %d", k.db.d.Name, len(ids), MaxSearchLimit)
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	err := k.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		_, err := q.Exec(ctx, `UPDATE knowledge_contents SET access_count = access_count + 1 WHERE id IN (`+Placeholders(len(ids))+`)`, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: count access: %w", k.db.d.Name, k.db.Err(ctx, err))
	}
	return nil
}

// GetContent returns the content or core.ErrNotFound.
func (k *Knowledge) GetContent(ctx context.Context, id string) (*knowledge.Content, error) {
	return k.getContent(ctx, fmt.Sprintf("content %q", id), "id = ?", id)
}

// ContentByHash returns the processing or completed content of the base
// with that hash, or core.ErrNotFound.
func (k *Knowledge) ContentByHash(ctx context.Context, knowledgeID, hash string) (*knowledge.Content, error) {
	if hash == "" {
		return nil, fmt.Errorf("content with an empty hash: %w", core.ErrNotFound)
	}
	return k.getContent(ctx, fmt.Sprintf("content of knowledge base %q with hash %q", knowledgeID, hash),
		`knowledge_id = ? AND hash = ? AND status IN ('processing', 'completed')`, knowledgeID, hash)
}

// UpdateContent replaces the content's name, description, metadata, reader
// and updated_at.
func (k *Knowledge) UpdateContent(ctx context.Context, c *knowledge.Content) error {
	if c == nil || c.ID == "" {
		return invalidf("%s: update content: id is required", k.db.d.Name)
	}
	meta, err := EncodeJSON(k.db.d, "metadata", c.Metadata)
	if err != nil {
		return err
	}
	var n int64
	err = k.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `UPDATE knowledge_contents SET name = ?, description = ?, metadata = ?, reader_id = ?,
			updated_at = ? WHERE id = ?`, c.Name, c.Description, meta, c.ReaderID, c.UpdatedAt, c.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: update content %q: %w", k.db.d.Name, c.ID, k.db.Err(ctx, err))
	}
	if n == 0 {
		return fmt.Errorf("content %q: %w", c.ID, core.ErrNotFound)
	}
	return nil
}

// validStatus reports whether s is a content status.
func validStatus(s string) bool {
	return s == knowledge.StatusProcessing || s == knowledge.StatusCompleted || s == knowledge.StatusFailed
}

// SetContentStatus sets the content's status and message. Moving a content
// to processing while another of its base with its hash is processing or
// completed is core.ErrConflict.
func (k *Knowledge) SetContentStatus(ctx context.Context, id, status, message string) error {
	if !validStatus(status) {
		return invalidf("content status %q: want processing, completed or failed", status)
	}
	var kb string
	err := k.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		return q.QueryRow(ctx, `UPDATE knowledge_contents SET status = ?, status_message = ? WHERE id = ?
			RETURNING knowledge_id`, status, message, id).Scan(&kb)
	})
	switch {
	case isNoRows(err):
		return fmt.Errorf("content %q: %w", id, core.ErrNotFound)
	case k.db.IsUnique(err):
		return fmt.Errorf("content %q: another content of its knowledge base has its hash: %w", id, core.ErrConflict)
	case err != nil:
		return fmt.Errorf("%s: set the status of content %q: %w", k.db.d.Name, id, k.db.Err(ctx, err))
	}
	k.eng.Changed(kb, id)
	return nil
}

// CompleteContent replaces the content's chunks with chunks and marks it
// completed, in one transaction. Chunks get the content's id and base; an
// empty chunk id is given a new uuid. The embeddings of one content are all
// of one length (or all absent).
func (k *Knowledge) CompleteContent(ctx context.Context, id string, chunks []knowledge.Chunk) error {
	chunks, err := prepareChunks(id, chunks)
	if err != nil {
		return err
	}
	if err := k.eng.Prepare(ctx, chunks); err != nil {
		return fmt.Errorf("%s: complete content %q: %w", k.db.d.Name, id, k.db.Err(ctx, err))
	}
	var kb string
	err = k.db.Write(ctx, func(ctx context.Context, q Querier) error {
		if err := q.QueryRow(ctx, `SELECT knowledge_id FROM knowledge_contents WHERE id = ?`, id).Scan(&kb); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `DELETE FROM knowledge_chunks WHERE content_id = ?`, id); err != nil {
			return err
		}
		for i := range chunks {
			chunks[i].KnowledgeID = kb
		}
		if err := k.eng.InsertChunks(ctx, q, kb, chunks); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `UPDATE knowledge_contents SET status = ?, status_message = '' WHERE id = ?`,
			knowledge.StatusCompleted, id)
		return err
	})
	switch {
	case isNoRows(err):
		return fmt.Errorf("content %q: %w", id, core.ErrNotFound)
	case k.db.IsUnique(err):
		return fmt.Errorf("complete content %q: a chunk id is taken, or another content of its knowledge base has its hash: %w",
			id, core.ErrConflict)
	case err != nil:
		return fmt.Errorf("%s: complete content %q: %w", k.db.d.Name, id, k.db.Err(ctx, err))
	}
	k.eng.Changed(kb, id)
	return nil
}

// prepareChunks validates chunks and returns a copy with the content id and
// chunk ids set.
func prepareChunks(contentID string, chunks []knowledge.Chunk) ([]knowledge.Chunk, error) {
	out := make([]knowledge.Chunk, len(chunks))
	dim := -1
	seen := make(map[string]bool, len(chunks))
	for i, c := range chunks {
		if c.ContentID != "" && c.ContentID != contentID {
			return nil, invalidf("chunk %d belongs to content %q, not %q", i, c.ContentID, contentID)
		}
		c.ContentID = contentID
		if c.ID == "" {
			c.ID = uuid.NewString()
		}
		if seen[c.ID] {
			return nil, invalidf("chunk id %q appears twice", c.ID)
		}
		seen[c.ID] = true
		switch {
		case dim == -1:
			dim = len(c.Embedding)
		case len(c.Embedding) != dim:
			return nil, invalidf("chunk %d has an embedding of %d dimensions, chunk 0 one of %d", i, len(c.Embedding), dim)
		}
		if c.Embedding != nil {
			if err := CheckVector(c.Embedding); err != nil {
				return nil, fmt.Errorf("chunk %d: %w", i, err)
			}
		}
		out[i] = c
	}
	return out, nil
}

// CheckVector validates an embedding or query vector: 1 to MaxDimensions
// finite numbers, not all zero (cosine similarity needs a direction).
func CheckVector(v []float32) error {
	if len(v) == 0 || len(v) > MaxDimensions {
		return invalidf("a vector has %d dimensions: want 1 to %d", len(v), MaxDimensions)
	}
	zero := true
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return invalidf("a vector holds %v", x)
		}
		if x != 0 {
			zero = false
		}
	}
	if zero {
		return invalidf("a vector of zeros has no direction")
	}
	return nil
}

// InsertChunkRows inserts chunks with plain columns and, for each, the
// values extra gives for the columns extraCols (nil: none), a few hundred
// rows a statement. It returns each chunk's seq, by chunk id.
func (k *Knowledge) InsertChunkRows(ctx context.Context, q Querier, chunks []knowledge.Chunk, extraCols []string,
	extra func(c *knowledge.Chunk) []any) (map[string]int64, error) {
	cols := append(chunkColumns[:len(chunkColumns):len(chunkColumns)], extraCols...)
	row := "(" + Placeholders(len(cols)) + ")"
	per := max(1, 4000/len(cols))
	seqs := make(map[string]int64, len(chunks))
	for start := 0; start < len(chunks); start += per {
		batch := chunks[start:min(start+per, len(chunks))]
		var b strings.Builder
		b.WriteString(`INSERT INTO knowledge_chunks (` + Columns(cols).String() + `) VALUES `)
		args := make([]any, 0, len(batch)*len(cols))
		for i := range batch {
			c := &batch[i]
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(row)
			meta, err := EncodeJSON(k.db.d, "metadata", c.Metadata)
			if err != nil {
				return nil, err
			}
			args = append(args, c.ID, c.ContentID, c.KnowledgeID, c.Index, c.Name, c.Text, meta)
			if extra != nil {
				args = append(args, extra(c)...)
			}
		}
		b.WriteString(` RETURNING id, seq`)
		rows, err := q.Query(ctx, b.String(), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			var seq int64
			if err := rows.Scan(&id, &seq); err != nil {
				rows.Close()
				return nil, err
			}
			seqs[id] = seq
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return seqs, nil
}

// contentSort is the whitelist of ListContents' sort keys.
var contentSort = Sort{"created_at": "created_at", "updated_at": "updated_at", "name": "", "status": "status",
	"size": "size", "type": "type"}

// ListContents returns one page of the base's contents and their total;
// by default the newest first.
func (k *Knowledge) ListContents(ctx context.Context, l knowledge.ContentList) ([]knowledge.Content, int, error) {
	sortBy := l.SortBy
	if sortBy == "" {
		sortBy = "created_at"
	}
	asc := false
	switch strings.ToLower(l.SortOrder) {
	case "asc":
		asc = true
	case "", "desc":
	default:
		return nil, 0, invalidf("sort_order %q: want asc or desc", l.SortOrder)
	}
	sorts := Sort{}
	for key, expr := range contentSort {
		if key == "name" {
			expr = k.db.d.ByteOrder("name")
		}
		sorts[key] = expr
	}
	order, err := sorts.OrderBy(sortBy, asc, "seq")
	if err != nil {
		return nil, 0, err
	}
	limit := l.Limit
	if limit <= 0 {
		limit = 20
	}
	list := List{Columns: contentColumns.String(), From: "knowledge_contents", Where: " WHERE knowledge_id = ?",
		Args: []any{l.KnowledgeID}, OrderBy: order, Page: Page{Limit: limit, Page: l.Page}}
	return collect(ctx, k.db, list, "list contents", k.scanContent)
}

// DeleteContent deletes the content, its chunks and its blob, in one
// transaction.
func (k *Knowledge) DeleteContent(ctx context.Context, id string) error {
	var kb string
	err := k.db.Write(ctx, func(ctx context.Context, q Querier) error {
		if err := q.QueryRow(ctx, `DELETE FROM knowledge_contents WHERE id = ? RETURNING knowledge_id`, id).Scan(&kb); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `DELETE FROM knowledge_blobs WHERE key = ?`, id); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `DELETE FROM knowledge_chunks WHERE content_id = ?`, id)
		return err
	})
	if isNoRows(err) {
		return fmt.Errorf("content %q: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s: delete content %q: %w", k.db.d.Name, id, k.db.Err(ctx, err))
	}
	k.eng.Changed(kb, id)
	return nil
}

// DeleteContents deletes every content, chunk and content blob of the base
// and reports how many contents.
func (k *Knowledge) DeleteContents(ctx context.Context, knowledgeID string) (int, error) {
	var n int64
	err := k.db.Write(ctx, func(ctx context.Context, q Querier) error {
		_, err := q.Exec(ctx, `DELETE FROM knowledge_blobs WHERE key IN
			(SELECT id FROM knowledge_contents WHERE knowledge_id = ?)`, knowledgeID)
		if err != nil {
			return err
		}
		if n, err = q.Exec(ctx, `DELETE FROM knowledge_contents WHERE knowledge_id = ?`, knowledgeID); err != nil {
			return err
		}
		_, err = q.Exec(ctx, `DELETE FROM knowledge_chunks WHERE knowledge_id = ?`, knowledgeID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("%s: delete the contents of knowledge base %q: %w", k.db.d.Name, knowledgeID, k.db.Err(ctx, err))
	}
	k.eng.Changed(knowledgeID, "")
	return int(n), nil
}

// --- blobs ---------------------------------------------------------------------

// PutBlob stores the raw bytes of a content under key (the content id),
// replacing any there.
func (k *Knowledge) PutBlob(ctx context.Context, key string, data []byte) error {
	if key == "" {
		return invalidf("%s: put blob: key is required", k.db.d.Name)
	}
	if data == nil {
		data = []byte{}
	}
	up := Upsert{Table: "knowledge_blobs", Columns: Columns{"key", "data", "created_at"}, Key: []string{"key"},
		Update: []string{"data", "created_at"}}
	err := k.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		_, err := q.Exec(ctx, up.SQL(), key, data, time.Now().Unix())
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: put blob %q: %w", k.db.d.Name, key, k.db.Err(ctx, err))
	}
	return nil
}

// GetBlob returns the bytes under key, or core.ErrNotFound.
func (k *Knowledge) GetBlob(ctx context.Context, key string) ([]byte, error) {
	var data []byte
	err := k.db.ReadStmt(ctx, func(ctx context.Context, q Querier) error {
		return q.QueryRow(ctx, `SELECT data FROM knowledge_blobs WHERE key = ?`, key).Scan(&data)
	})
	if isNoRows(err) {
		return nil, fmt.Errorf("blob %q: %w", key, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: get blob %q: %w", k.db.d.Name, key, k.db.Err(ctx, err))
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// DeleteBlob removes the bytes under key; none is no error.
func (k *Knowledge) DeleteBlob(ctx context.Context, key string) error {
	err := k.db.WriteStmt(ctx, func(ctx context.Context, q Querier) error {
		_, err := q.Exec(ctx, `DELETE FROM knowledge_blobs WHERE key = ?`, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: delete blob %q: %w", k.db.d.Name, key, k.db.Err(ctx, err))
	}
	return nil
}

// --- what the searches share -------------------------------------------------

// SearchLimit is q's limit, defaulted and bounded.
func SearchLimit(q knowledge.Query) int {
	switch {
	case q.Limit <= 0:
		return DefaultSearchLimit
	case q.Limit > MaxSearchLimit:
		return MaxSearchLimit
	}
	return q.Limit
}

// SearchTerms splits a keyword query into its terms: runs of letters and
// digits, lower-cased, at most MaxSearchTerms (each at most 64 bytes),
// without repeats. Nothing else of the text reaches a query language, so
// any input is a valid search.
func SearchTerms(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		f = strings.ToLower(f)
		if len(f) > 64 {
			f = f[:64]
			for !utf8.ValidString(f) {
				f = f[:len(f)-1]
			}
		}
		if f == "" || seen[f] {
			continue
		}
		seen[f] = true
		out = append(out, f)
		if len(out) == MaxSearchTerms {
			break
		}
	}
	return out
}

// ScanHit scans a row of ChunkSelect's columns followed by the score.
func (k *Knowledge) ScanHit(row Row) (knowledge.Hit, error) {
	var (
		h knowledge.Hit
		f Fields
	)
	f.Add(&h.ID, &h.ContentID, &h.KnowledgeID, &h.Index, &h.Name, &h.Text)
	f.JSON(k.db.d, "metadata", &h.Metadata)
	f.Add(&h.Score)
	err := f.Scan(row)
	return h, err
}

// CollectHits runs a search statement and scans its hits (an empty,
// non-nil slice when none).
func (k *Knowledge) CollectHits(ctx context.Context, q Querier, query string, args ...any) ([]knowledge.Hit, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []knowledge.Hit{}
	for rows.Next() {
		h, err := k.ScanHit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
