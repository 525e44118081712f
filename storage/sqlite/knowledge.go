package sqlite

// The knowledge group's searches on SQLite (its CRUD is storage/sqlstore's
// Knowledge): keyword search on the FTS5 index of the chunks, ranked by
// BM25, and exact vector search in process over a per-base cache of the
// decoded embeddings.
//
// Embeddings are stored with their chunks as float32 little-endian BLOBs.
// A vector search compares the query with every embedding of the base of
// its dimension (cosine similarity, exact, in parallel over the cores):
// the first search of a base decodes its embeddings into memory (about
// dimensions × 4 bytes a chunk: 150 MB for 100k × 384) and later ones reuse
// them until a write changes what the base's searches can find (a content
// completed, re-processed, failed or deleted), which drops the base's
// cache; the next search decodes it again. Embeddings of another length
// than the query's are not compared.

import (
	"container/heap"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"

	"github.com/agentgate/agentgate/core/knowledge"
	"github.com/agentgate/agentgate/storage/sqlstore"
)

// knowledgeStore is knowledge.Store on SQLite: the shared CRUD and the
// searches.
type knowledgeStore struct {
	*sqlstore.Knowledge
	st  *Store
	vec vectorCache
}

var _ knowledge.Store = (*knowledgeStore)(nil)

func newKnowledge(st *Store) *knowledgeStore {
	k := &knowledgeStore{st: st, vec: vectorCache{bases: map[string]*vectorBase{}, gens: map[string]uint64{}}}
	k.Knowledge = sqlstore.NewKnowledge(st.sql, knowledgeEngine{k})
	return k
}

// knowledgeEngine inserts chunks with their embedding column and drops the
// vector cache of a base that changed.
type knowledgeEngine struct{ k *knowledgeStore }

func (e knowledgeEngine) InsertChunks(ctx context.Context, q sqlstore.Querier, _ string, chunks []knowledge.Chunk) error {
	_, err := e.k.InsertChunkRows(ctx, q, chunks, []string{"embedding"}, func(c *knowledge.Chunk) []any {
		if c.Embedding == nil {
			return []any{nil}
		}
		return []any{encodeVector(c.Embedding)}
	})
	return err
}

func (knowledgeEngine) Prepare(context.Context, []knowledge.Chunk) error { return nil }

func (e knowledgeEngine) Changed(knowledgeID string) { e.k.vec.changed(knowledgeID) }

// encodeVector is v as float32 little-endian.
func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// ftsQuery is the FTS5 query of terms: any of them (BM25 ranks the chunks
// holding more, and rarer, terms first). Terms are letters and digits only,
// each quoted.
func ftsQuery(terms []string) string {
	var b strings.Builder
	for i, t := range terms {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString(`"` + t + `"`)
	}
	return b.String()
}

// SearchKeyword ranks the base's searchable chunks holding any term of
// q.Text by BM25 (score: -bm25, higher is better).
func (k *knowledgeStore) SearchKeyword(ctx context.Context, q knowledge.Query) ([]knowledge.Hit, error) {
	terms := sqlstore.SearchTerms(q.Text)
	if len(terms) == 0 {
		return []knowledge.Hit{}, nil
	}
	filter, fargs, err := k.Filters(q.Filters)
	if err != nil {
		return nil, err
	}
	args := append([]any{ftsQuery(terms), q.KnowledgeID}, fargs...)
	args = append(args, sqlstore.SearchLimit(q))
	var hits []knowledge.Hit
	err = k.DB().ReadStmt(ctx, func(ctx context.Context, qr sqlstore.Querier) error {
		var err error
		hits, err = k.CollectHits(ctx, qr, `SELECT `+sqlstore.ChunkSelect+`, -bm25(knowledge_chunks_fts) AS score
			FROM knowledge_chunks_fts
			JOIN knowledge_chunks ch ON ch.seq = knowledge_chunks_fts.rowid
			JOIN knowledge_contents co ON co.id = ch.content_id
			WHERE knowledge_chunks_fts MATCH ? AND ch.knowledge_id = ? AND co.status = 'completed'`+filter+`
			ORDER BY bm25(knowledge_chunks_fts), ch.seq LIMIT ?`, args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: keyword search of knowledge base %q: %w", q.KnowledgeID, err)
	}
	return hits, nil
}

// SearchVector ranks the base's searchable chunks by cosine similarity to
// q.Vector, exactly.
func (k *knowledgeStore) SearchVector(ctx context.Context, q knowledge.Query) ([]knowledge.Hit, error) {
	if err := sqlstore.CheckVector(q.Vector); err != nil {
		return nil, err
	}
	filter, fargs, err := k.Filters(q.Filters)
	if err != nil {
		return nil, err
	}
	base, err := k.vec.get(ctx, q.KnowledgeID, k.load)
	if err != nil {
		return nil, fmt.Errorf("sqlite: vector search of knowledge base %q: %w", q.KnowledgeID, err)
	}
	g := base.groups[len(q.Vector)]
	if g == nil {
		return []knowledge.Hit{}, nil
	}
	var allow map[int64]struct{}
	if filter != "" {
		if allow, err = k.allowed(ctx, q.KnowledgeID, filter, fargs); err != nil {
			return nil, fmt.Errorf("sqlite: vector search of knowledge base %q: %w", q.KnowledgeID, err)
		}
	}
	top := g.search(normalized(q.Vector), sqlstore.SearchLimit(q), allow)
	if len(top) == 0 {
		return []knowledge.Hit{}, nil
	}
	return k.hits(ctx, q.KnowledgeID, top)
}

// allowed is the seqs of the base's searchable chunks that match filter.
func (k *knowledgeStore) allowed(ctx context.Context, kb, filter string, fargs []any) (map[int64]struct{}, error) {
	out := map[int64]struct{}{}
	err := k.DB().ReadStmt(ctx, func(ctx context.Context, qr sqlstore.Querier) error {
		rows, err := qr.Query(ctx, `SELECT ch.seq FROM knowledge_chunks ch JOIN knowledge_contents co ON co.id = ch.content_id
			WHERE ch.knowledge_id = ? AND co.status = 'completed' AND ch.embedding IS NOT NULL`+filter,
			append([]any{kb}, fargs...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				return err
			}
			out[seq] = struct{}{}
		}
		return rows.Err()
	})
	return out, err
}

// hits reads the chunks of top (best first), still searchable, in top's
// order with their scores.
func (k *knowledgeStore) hits(ctx context.Context, kb string, top []scored) ([]knowledge.Hit, error) {
	score := make(map[int64]float32, len(top))
	args := []any{kb}
	for _, t := range top {
		score[t.seq] = t.score
		args = append(args, t.seq)
	}
	byID := map[int64]knowledge.Hit{}
	err := k.DB().ReadStmt(ctx, func(ctx context.Context, qr sqlstore.Querier) error {
		rows, err := qr.Query(ctx, `SELECT `+sqlstore.ChunkSelect+`, ch.seq FROM knowledge_chunks ch
			JOIN knowledge_contents co ON co.id = ch.content_id
			WHERE ch.knowledge_id = ? AND co.status = 'completed' AND ch.seq IN (`+sqlstore.Placeholders(len(top))+`)`,
			args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			h, err := k.ScanHit(rows) // the seq lands in Score, replaced below
			if err != nil {
				return err
			}
			seq := int64(h.Score)
			h.Score = float64(score[seq])
			byID[seq] = h
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: vector search of knowledge base %q: %w", kb, err)
	}
	out := make([]knowledge.Hit, 0, len(top))
	for _, t := range top {
		if h, ok := byID[t.seq]; ok {
			out = append(out, h)
		}
	}
	return out, nil
}

// load decodes the embeddings of the base's searchable chunks.
func (k *knowledgeStore) load(ctx context.Context, kb string) (*vectorBase, error) {
	base := &vectorBase{groups: map[int]*vectorGroup{}}
	err := k.DB().ReadStmt(ctx, func(ctx context.Context, qr sqlstore.Querier) error {
		rows, err := qr.Query(ctx, `SELECT ch.seq, ch.embedding FROM knowledge_chunks ch
			JOIN knowledge_contents co ON co.id = ch.content_id
			WHERE ch.knowledge_id = ? AND co.status = 'completed' AND ch.embedding IS NOT NULL ORDER BY ch.seq`, kb)
		if err != nil {
			return err
		}
		defer rows.Close()
		var blob sql.RawBytes // decoded before the next row: no copy
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq, &blob); err != nil {
				return err
			}
			if len(blob) == 0 || len(blob)%4 != 0 {
				return fmt.Errorf("chunk %d: an embedding of %d bytes is not float32s", seq, len(blob))
			}
			dim := len(blob) / 4
			g := base.groups[dim]
			if g == nil {
				g = &vectorGroup{dim: dim}
				base.groups[dim] = g
			}
			g.add(seq, blob)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return base, nil
}

// --- the vector cache --------------------------------------------------------

// vectorCache keeps the decoded embeddings of the bases searched, each
// tagged with the generation of its base it was loaded at; a write bumps
// the generation (after its commit), so a base loaded before it is loaded
// again.
type vectorCache struct {
	mu    sync.Mutex
	gens  map[string]uint64
	all   uint64 // bumped by a change of every base
	bases map[string]*vectorBase
	loads map[string]*sync.Mutex // one load of a base at a time
}

// vectorBase is one base's embeddings, by dimension.
type vectorBase struct {
	gen    uint64
	groups map[int]*vectorGroup
}

func (c *vectorCache) gen(kb string) uint64 { return c.gens[kb] + c.all }

func (c *vectorCache) changed(kb string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if kb == "" {
		c.all++
		clear(c.bases)
		return
	}
	c.gens[kb]++
	delete(c.bases, kb)
}

// get returns the base's embeddings, loading them when none are cached at
// its current generation.
func (c *vectorCache) get(ctx context.Context, kb string, load func(context.Context, string) (*vectorBase, error)) (*vectorBase, error) {
	c.mu.Lock()
	if b := c.bases[kb]; b != nil && b.gen == c.gen(kb) {
		c.mu.Unlock()
		return b, nil
	}
	if c.loads == nil {
		c.loads = map[string]*sync.Mutex{}
	}
	lm := c.loads[kb]
	if lm == nil {
		lm = new(sync.Mutex)
		c.loads[kb] = lm
	}
	c.mu.Unlock()

	lm.Lock()
	defer lm.Unlock()
	c.mu.Lock()
	gen := c.gen(kb)
	if b := c.bases[kb]; b != nil && b.gen == gen { // loaded while we waited
		c.mu.Unlock()
		return b, nil
	}
	c.mu.Unlock()
	b, err := load(ctx, kb)
	if err != nil {
		return nil, err
	}
	b.gen = gen
	c.mu.Lock()
	if c.gen(kb) == gen { // no write since we read the generation
		c.bases[kb] = b
	}
	c.mu.Unlock()
	return b, nil
}

// vectorGroup is a base's embeddings of one dimension, normalised, one
// after another.
type vectorGroup struct {
	dim  int
	seqs []int64
	vecs []float32
}

func (g *vectorGroup) add(seq int64, blob []byte) {
	start := len(g.vecs)
	var norm float64
	for i := 0; i < g.dim; i++ {
		x := math.Float32frombits(binary.LittleEndian.Uint32(blob[4*i:]))
		g.vecs = append(g.vecs, x)
		norm += float64(x) * float64(x)
	}
	if norm > 0 {
		inv := float32(1 / math.Sqrt(norm))
		for i := start; i < len(g.vecs); i++ {
			g.vecs[i] *= inv
		}
	}
	g.seqs = append(g.seqs, seq)
}

// normalized is v scaled to length 1.
func normalized(v []float32) []float32 {
	var norm float64
	for _, x := range v {
		norm += float64(x) * float64(x)
	}
	inv := float32(1 / math.Sqrt(norm))
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = x * inv
	}
	return out
}

// scored is a chunk and its cosine similarity.
type scored struct {
	seq   int64
	score float32
}

// minHeap keeps the best k seen: the worst of them on top.
type minHeap []scored

func (h minHeap) Len() int { return len(h) }
func (h minHeap) Less(i, j int) bool {
	if h[i].score != h[j].score {
		return h[i].score < h[j].score
	}
	return h[i].seq > h[j].seq // of equal scores, the earlier chunk is better
}
func (h minHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)   { *h = append(*h, x.(scored)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// better reports whether a ranks before b.
func better(a, b scored) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.seq < b.seq
}

// parallelMin is the number of vectors below which a search stays on one
// goroutine.
const parallelMin = 4096

// search returns the k vectors nearest q (normalised), best first; allow,
// when not nil, is the only seqs that may be returned.
func (g *vectorGroup) search(q []float32, k int, allow map[int64]struct{}) []scored {
	n := len(g.seqs)
	workers := min(runtime.GOMAXPROCS(0), max(1, n/parallelMin))
	parts := make([]minHeap, workers)
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for w := range workers {
		lo, hi := w*per, min(n, (w+1)*per)
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[w] = g.scan(q, k, lo, hi, allow)
		}()
	}
	wg.Wait()
	var all []scored
	for _, p := range parts {
		all = append(all, p...)
	}
	// Best first: a few hundred at most, sorted by insertion.
	for i := 1; i < len(all); i++ {
		for j := i; j > 0 && better(all[j], all[j-1]); j-- {
			all[j], all[j-1] = all[j-1], all[j]
		}
	}
	return all[:min(k, len(all))]
}

// scan keeps the k best of vectors lo to hi.
func (g *vectorGroup) scan(q []float32, k, lo, hi int, allow map[int64]struct{}) minHeap {
	h := make(minHeap, 0, k+1)
	d := g.dim
	for i := lo; i < hi; i++ {
		if allow != nil {
			if _, ok := allow[g.seqs[i]]; !ok {
				continue
			}
		}
		s := scored{seq: g.seqs[i], score: dot(q, g.vecs[i*d:i*d+d])}
		if len(h) < k {
			heap.Push(&h, s)
		} else if better(s, h[0]) {
			h[0] = s
			heap.Fix(&h, 0)
		}
	}
	return h
}

// dot is the dot product of a and b (as long as a).
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		s0 += a[i]*b[i] + a[i+4]*b[i+4]
		s1 += a[i+1]*b[i+1] + a[i+5]*b[i+5]
		s2 += a[i+2]*b[i+2] + a[i+6]*b[i+6]
		s3 += a[i+3]*b[i+3] + a[i+7]*b[i+7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}
