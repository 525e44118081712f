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
// dimensions × 4 bytes a chunk: 150 MB for 100k × 384), by content, and
// later ones reuse them. A write that changes what a content's chunks the
// searches can find (completed, re-processed, failed, deleted) marks that
// content, whose embeddings the next search decodes again, alone; deleting
// a base's contents drops the base. Embeddings of another length than the
// query's are not compared.

import (
	"container/heap"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
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
	k := &knowledgeStore{st: st, vec: newVectorCache()}
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

func (e knowledgeEngine) Changed(knowledgeID, contentID string) {
	e.k.vec.changed(knowledgeID, contentID)
}

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
	filter, fargs, err := k.Filters(q.Filter)
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
	filter, fargs, err := k.Filters(q.Filter)
	if err != nil {
		return nil, err
	}
	base, err := k.vec.get(ctx, q.KnowledgeID, k.load)
	if err != nil {
		return nil, fmt.Errorf("sqlite: vector search of knowledge base %q: %w", q.KnowledgeID, err)
	}
	groups := base.groups(len(q.Vector))
	if len(groups) == 0 {
		return []knowledge.Hit{}, nil
	}
	var allow map[int64]struct{}
	if filter != "" {
		if allow, err = k.allowed(ctx, q.KnowledgeID, filter, fargs); err != nil {
			return nil, fmt.Errorf("sqlite: vector search of knowledge base %q: %w", q.KnowledgeID, err)
		}
	}
	top := search(groups, normalized(q.Vector), sqlstore.SearchLimit(q), allow)
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

// load decodes the embeddings of the base's searchable chunks, of the
// contents named (nil: of all), by content (a content without any is
// absent).
func (k *knowledgeStore) load(ctx context.Context, kb string, contents []string) (map[string]*vectorSegment, error) {
	out := map[string]*vectorSegment{}
	const per = 500
	for start := 0; start == 0 || start < len(contents); start += per {
		// A whole base is read by its index; a few contents by theirs
		// (the unary + keeps SQLite off the base's index then).
		where, args := "ch.knowledge_id = ?", []any{kb}
		if contents != nil {
			batch := contents[start:min(start+per, len(contents))]
			where = `+ch.knowledge_id = ? AND ch.content_id IN (` + sqlstore.Placeholders(len(batch)) + `)`
			for _, c := range batch {
				args = append(args, c)
			}
		}
		err := k.DB().ReadStmt(ctx, func(ctx context.Context, qr sqlstore.Querier) error {
			rows, err := qr.Query(ctx, `SELECT ch.content_id, ch.seq, ch.embedding FROM knowledge_chunks ch
				JOIN knowledge_contents co ON co.id = ch.content_id
				WHERE `+where+` AND co.status = 'completed' AND ch.embedding IS NOT NULL`, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			var (
				content string
				seq     int64
				blob    sql.RawBytes // decoded before the next row: no copy
			)
			for rows.Next() {
				if err := rows.Scan(&content, &seq, &blob); err != nil {
					return err
				}
				if len(blob) == 0 || len(blob)%4 != 0 {
					return fmt.Errorf("chunk %d: an embedding of %d bytes is not float32s", seq, len(blob))
				}
				seg := out[content]
				if seg == nil {
					seg = &vectorSegment{groups: map[int]*vectorGroup{}}
					out[content] = seg
				}
				dim := len(blob) / 4
				g := seg.groups[dim]
				if g == nil {
					g = &vectorGroup{dim: dim}
					seg.groups[dim] = g
				}
				g.add(seq, blob)
			}
			return rows.Err()
		})
		if err != nil {
			return nil, err
		}
		if contents == nil {
			break
		}
	}
	return out, nil
}

// --- the vector cache --------------------------------------------------------

// vectorCache keeps the decoded embeddings of the bases searched, by
// content. A write marks what it changed after its commit: one content
// (completed, re-processed, failed, deleted), whose embeddings the next
// search reloads alone, or a whole base (all its contents deleted), which
// the next search loads again. Each mark carries a generation, so a load
// that read the database before a write's commit never clears that
// write's mark.
type vectorCache struct {
	mu    sync.Mutex
	bases map[string]*vectorBase
	gens  map[string]uint64            // by base: whole-base changes
	dirty map[string]map[string]uint64 // by base: changed contents, at their generation
	cgen  uint64                       // the last content generation given
	loads map[string]*sync.Mutex       // one load of a base at a time
}

func newVectorCache() vectorCache {
	return vectorCache{bases: map[string]*vectorBase{}, gens: map[string]uint64{},
		dirty: map[string]map[string]uint64{}, loads: map[string]*sync.Mutex{}}
}

// vectorBase is one base's embeddings, by content; never changed once
// published (a reload publishes a new one), so searches read it unlocked.
type vectorBase struct {
	gen  uint64
	segs map[string]*vectorSegment
}

// vectorSegment is one content's embeddings, by dimension.
type vectorSegment struct{ groups map[int]*vectorGroup }

// groups are the base's groups of embeddings of dim dimensions.
func (b *vectorBase) groups(dim int) []*vectorGroup {
	var out []*vectorGroup
	for _, s := range b.segs {
		if g := s.groups[dim]; g != nil {
			out = append(out, g)
		}
	}
	return out
}

func (c *vectorCache) changed(kb, content string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if content == "" {
		c.gens[kb]++
		delete(c.bases, kb)
		delete(c.dirty, kb)
		return
	}
	if c.bases[kb] == nil {
		// Not cached: the next search loads it whole, and a load under
		// way (which may have read before the commit) is not kept.
		c.gens[kb]++
		return
	}
	if c.dirty[kb] == nil {
		c.dirty[kb] = map[string]uint64{}
	}
	c.cgen++
	c.dirty[kb][content] = c.cgen
}

// get returns the base's embeddings, loading them whole when none are
// cached at its current generation, and reloading its changed contents.
func (c *vectorCache) get(ctx context.Context, kb string, load func(context.Context, string, []string) (map[string]*vectorSegment, error)) (*vectorBase, error) {
	c.mu.Lock()
	if b := c.bases[kb]; b != nil && b.gen == c.gens[kb] && len(c.dirty[kb]) == 0 {
		c.mu.Unlock()
		return b, nil
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
	gen, old := c.gens[kb], c.bases[kb]
	if old != nil && old.gen != gen {
		old = nil
	}
	if old != nil && len(c.dirty[kb]) == 0 { // reloaded while we waited
		c.mu.Unlock()
		return old, nil
	}
	var marks map[string]uint64
	if old != nil {
		marks = maps.Clone(c.dirty[kb])
	}
	c.mu.Unlock()

	var next *vectorBase
	if old == nil {
		segs, err := load(ctx, kb, nil)
		if err != nil {
			return nil, err
		}
		next = &vectorBase{gen: gen, segs: segs}
	} else {
		contents := slices.Collect(maps.Keys(marks))
		segs, err := load(ctx, kb, contents)
		if err != nil {
			return nil, err
		}
		next = &vectorBase{gen: gen, segs: maps.Clone(old.segs)}
		for _, id := range contents {
			if seg := segs[id]; seg != nil {
				next.segs[id] = seg
			} else {
				delete(next.segs, id)
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gens[kb] != gen { // the whole base changed meanwhile: do not keep it
		return next, nil
	}
	c.bases[kb] = next
	if old == nil {
		delete(c.dirty, kb) // marks made before the load began are in it
		return next, nil
	}
	for id, g := range marks {
		if c.dirty[kb][id] == g { // not changed again since we read it
			delete(c.dirty[kb], id)
		}
	}
	return next, nil
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

// search returns the k vectors of groups nearest q (normalised), best
// first; allow, when not nil, is the only seqs that may be returned. The
// groups are shared out among the cores when there are enough vectors.
func search(groups []*vectorGroup, q []float32, k int, allow map[int64]struct{}) []scored {
	n := 0
	for _, g := range groups {
		n += len(g.seqs)
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, n/parallelMin))
	parts := make([]minHeap, workers)
	var wg sync.WaitGroup
	if len(groups) < workers { // few large groups: split each by rows
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h := make(minHeap, 0, k+1)
				for _, g := range groups {
					per := (len(g.seqs) + workers - 1) / workers
					g.scan(&h, q, k, min(len(g.seqs), w*per), min(len(g.seqs), (w+1)*per), allow)
				}
				parts[w] = h
			}()
		}
	} else {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h := make(minHeap, 0, k+1)
				for i := w; i < len(groups); i += workers {
					groups[i].scan(&h, q, k, 0, len(groups[i].seqs), allow)
				}
				parts[w] = h
			}()
		}
	}
	wg.Wait()
	var all []scored
	for _, p := range parts {
		all = append(all, p...)
	}
	slices.SortFunc(all, func(a, b scored) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	return all[:min(k, len(all))]
}

// scan adds vectors lo to hi to h, which keeps the k best.
func (g *vectorGroup) scan(hp *minHeap, q []float32, k, lo, hi int, allow map[int64]struct{}) {
	h := *hp
	defer func() { *hp = h }()
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
}

// dotGeneric is the dot product of a and b (as long as a) in Go (dot uses
// AVX2 where the CPU has it: dot_amd64.go).
func dotGeneric(a, b []float32) float32 {
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
