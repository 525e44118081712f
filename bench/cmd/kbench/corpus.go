package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// corpus generates the chunks, deterministically: chunk i's text (about 40
// words of a 5,000-word vocabulary, Zipf-distributed like natural text)
// and its embedding (random, unit length) depend on i only. It keeps the
// embeddings generated so far, in order, for the exact answers and the
// in-process baseline.
type corpus struct {
	dims  int
	vocab []string
	vecs  []float32 // chunk i's embedding at i*dims
	// topics, when not 0, clusters the embeddings as real ones are: chunk
	// i is about topic i*7919 mod topics, and its embedding is the topic's
	// centre plus noise (similarity within a topic about 0.7, across
	// topics about 0). With 0 every embedding is a random point of the
	// sphere: the worst case of any approximate index, where the 2nd to
	// 10th nearest of a query are only noise apart.
	topics  int
	centres []float32
}

// clusterNoise is the noise's length against the centre's (unit) length.
const clusterNoise = 0.65

type chunk struct {
	n         int
	text      string
	embedding []float32
}

type query struct {
	text   string
	vector []float32
}

func newCorpus(dims, topics int) *corpus {
	c := &corpus{dims: dims, topics: topics}
	cr := rand.New(rand.NewPCG(5, 6))
	for range topics {
		c.centres = append(c.centres, c.randVector(cr)...)
	}
	syl := []string{"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qu", "ri", "do", "fe", "gu", "ha", "jo", "be", "ci", "wu"}
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{}
	for len(c.vocab) < 5000 {
		var b strings.Builder
		for range 2 + r.IntN(3) {
			b.WriteString(syl[r.IntN(len(syl))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			c.vocab = append(c.vocab, w)
		}
	}
	return c
}

func (c *corpus) randVector(r *rand.Rand) []float32 {
	v := make([]float32, c.dims)
	var norm float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		norm += x * x
	}
	inv := float32(1 / math.Sqrt(norm))
	for i := range v {
		v[i] *= inv
	}
	return v
}

// chunk generates chunk n (and every embedding before it, if not yet).
func (c *corpus) chunk(n int) chunk {
	for len(c.vecs)/c.dims <= n {
		i := len(c.vecs) / c.dims
		v := c.randVector(rand.New(rand.NewPCG(uint64(i), 7)))
		if c.topics > 0 {
			centre := c.centres[(i*7919)%c.topics*c.dims:][:c.dims]
			var norm float64
			for j := range v {
				v[j] = centre[j] + clusterNoise*v[j]
				norm += float64(v[j]) * float64(v[j])
			}
			inv := float32(1 / math.Sqrt(norm))
			for j := range v {
				v[j] *= inv
			}
		}
		c.vecs = append(c.vecs, v...)
	}
	r := rand.New(rand.NewPCG(uint64(n), 11))
	z := rand.NewZipf(r, 1.1, 2, uint64(len(c.vocab)-1))
	words := make([]string, 30+r.IntN(20))
	for i := range words {
		words[i] = c.vocab[z.Uint64()]
	}
	return chunk{n: n, text: strings.Join(words, " "), embedding: c.vecs[n*c.dims : (n+1)*c.dims]}
}

// queries are n queries on the first size chunks: two words of middling
// frequency, and a vector near one of the chunks' (its embedding plus as
// much noise again: what an embedded question about a chunk looks like,
// rather than a random point, to which nothing is near).
func (c *corpus) queries(n, size int) []query {
	r := rand.New(rand.NewPCG(3, 4))
	out := make([]query, n)
	for i := range out {
		near := c.vecs[r.IntN(size)*c.dims:][:c.dims]
		noise := c.randVector(r)
		v := make([]float32, c.dims)
		var norm float64
		for j := range v {
			v[j] = near[j] + noise[j]
			norm += float64(v[j]) * float64(v[j])
		}
		inv := float32(1 / math.Sqrt(norm))
		for j := range v {
			v[j] *= inv
		}
		out[i] = query{text: c.vocab[20+r.IntN(500)] + " " + c.vocab[20+r.IntN(500)], vector: v}
	}
	return out
}

// exact is the k nearest of the first size chunks to v (unit length), by
// a plain scan: the in-process baseline, and the truth for recall.
func (c *corpus) exact(v []float32, size, k int) []int {
	type hit struct {
		n int
		s float32
	}
	top := make([]hit, 0, k+1)
	d := c.dims
	for n := range size {
		e := c.vecs[n*d : n*d+d]
		var s float32
		for i, x := range v {
			s += x * e[i]
		}
		if len(top) == k && s <= top[k-1].s {
			continue
		}
		j := len(top)
		top = append(top, hit{n, s})
		for ; j > 0 && top[j-1].s < s; j-- {
			top[j] = top[j-1]
		}
		top[j] = hit{n, s}
		if len(top) > k {
			top = top[:k]
		}
	}
	out := make([]int, len(top))
	for i, h := range top {
		out[i] = h.n
	}
	return out
}

// rrf fuses rankings by reciprocal rank (k = 60) and keeps the best limit.
func rrf(limit int, lists ...[]int) []int {
	score := map[int]float64{}
	for _, l := range lists {
		for rank, n := range l {
			score[n] += 1 / float64(60+rank+1)
		}
	}
	out := make([]int, 0, len(score))
	for n := range score {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b int) int {
		switch {
		case score[a] > score[b]:
			return -1
		case score[a] < score[b]:
			return 1
		}
		return a - b
	})
	return out[:min(limit, len(out))]
}
