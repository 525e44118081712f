package sqlite

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/agentgate/agentgate/core/knowledge"
)

// scanGroup is a group of n random normalised vectors of dim dimensions.
func scanGroup(n, dim int, r *rand.Rand) *vectorGroup {
	g := &vectorGroup{dim: dim}
	blob := make([]byte, 4*dim)
	for i := range n {
		for j := range dim {
			binary.LittleEndian.PutUint32(blob[4*j:], math.Float32bits(float32(r.NormFloat64())))
		}
		g.add(int64(i+1), blob)
	}
	return g
}

// TestSearchExact: the scan (parallel, heap) answers exactly the k best of
// a brute-force sort, best first, with a filter too.
func TestSearchExact(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	g := scanGroup(20000, 16, r)
	q := make([]float32, 16)
	for i := range q {
		q[i] = float32(r.NormFloat64())
	}
	q = normalized(q)
	all := make([]scored, len(g.seqs))
	for i, seq := range g.seqs {
		all[i] = scored{seq: seq, score: dot(q, g.vecs[i*16:i*16+16])}
	}
	slices.SortFunc(all, func(a, b scored) int {
		if better(a, b) {
			return -1
		}
		return 1
	})
	if got := search([]*vectorGroup{g}, q, 10, nil); !slices.Equal(got, all[:10]) {
		t.Fatalf("top 10 %v, want %v", got, all[:10])
	}
	allow := map[int64]struct{}{}
	var want []scored
	for _, s := range all {
		if s.seq%3 == 0 {
			allow[s.seq] = struct{}{}
			if len(want) < 5 {
				want = append(want, s)
			}
		}
	}
	if got := search([]*vectorGroup{g}, q, 5, allow); !slices.Equal(got, want) {
		t.Fatalf("filtered top 5 %v, want %v", got, want)
	}
}

// BenchmarkVectorScan100k is the in-process scan of 100k chunks of 384
// dimensions for the best 10 (the store's search without SQL), beside the
// bare single-goroutine scan of the same slab.
func BenchmarkVectorScan100k(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	g := scanGroup(100000, 384, r)
	q := make([]float32, 384)
	for i := range q {
		q[i] = float32(r.NormFloat64())
	}
	q = normalized(q)
	b.Run("search", func(b *testing.B) {
		for b.Loop() {
			search([]*vectorGroup{g}, q, 10, nil)
		}
	})
	bare := func(dot func(a, b []float32) float32) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				var best float32
				for i := range g.seqs {
					if s := dot(q, g.vecs[i*384:i*384+384]); s > best {
						best = s
					}
				}
			}
		}
	}
	b.Run("bare", bare(dot))
	b.Run("bare-go", bare(dotGeneric))
}

// TestDotAVX2: the assembly dot product is the Go one (to float32
// rounding) for every length, aligned or not.
func TestDotAVX2(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	buf := make([]float32, 4000)
	for i := range buf {
		buf[i] = float32(r.NormFloat64())
	}
	for _, n := range []int{0, 1, 7, 31, 32, 33, 63, 64, 96, 384, 385, 768, 1536, 999} {
		for _, off := range []int{0, 1, 3} {
			a, b := buf[off:off+n], buf[2000-off:2000-off+n]
			got, want := dot(a, b), dotGeneric(a, b)
			if d := math.Abs(float64(got - want)); d > 1e-3*(1+math.Abs(float64(want))) {
				t.Errorf("n %d off %d: dot %v, Go %v", n, off, got, want)
			}
		}
	}
	if !useAVX2 {
		t.Log("this CPU has no AVX2+FMA: dot is the Go loop")
	}
}

// BenchmarkStoreVectorSearch100k is the store's vector search of a base of
// 100k chunks of 384 dimensions (1000 contents) for the best 10, beside
// the bare in-process scan of the same cached embeddings, in one run: the
// difference is what the search spends outside the scan (the cache check,
// the SQL read of the 10 hits, their metadata).
func BenchmarkStoreVectorSearch100k(b *testing.B) {
	ctx := b.Context()
	s, err := Open(ctx, "file:"+b.TempDir()+"/bench.db")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(9, 10))
	vec := func() []float32 {
		v := make([]float32, 384)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	for c := range 1000 {
		id := "content-" + strconv.Itoa(c)
		if err := s.CreateContent(ctx, &knowledge.Content{ID: id, KnowledgeID: "kb", Name: id, Status: knowledge.StatusProcessing}); err != nil {
			b.Fatal(err)
		}
		chunks := make([]knowledge.Chunk, 100)
		for i := range chunks {
			chunks[i] = knowledge.Chunk{Text: "chunk " + strconv.Itoa(c*100+i), Embedding: vec(),
				Metadata: map[string]any{"n": c*100 + i, "source": "bench"}}
		}
		if err := s.CompleteContent(ctx, id, chunks); err != nil {
			b.Fatal(err)
		}
	}
	q := vec()
	if _, err := s.SearchVector(ctx, knowledge.Query{KnowledgeID: "kb", Vector: q, Limit: 10}); err != nil {
		b.Fatal(err) // loads the cache
	}
	b.ResetTimer()
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			hits, err := s.SearchVector(ctx, knowledge.Query{KnowledgeID: "kb", Vector: q, Limit: 10})
			if err != nil || len(hits) != 10 {
				b.Fatal(len(hits), err)
			}
		}
	})
	b.Run("scan", func(b *testing.B) {
		base, err := s.knowledgeStore.vec.get(ctx, "kb", s.knowledgeStore.load)
		if err != nil {
			b.Fatal(err)
		}
		nq := normalized(q)
		for b.Loop() {
			if top := search(base.groups(384), nq, 10, nil); len(top) != 10 {
				b.Fatal(len(top))
			}
		}
	})
}
