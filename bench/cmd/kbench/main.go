// Command kbench measures the knowledge store (core/knowledge.Store on
// storage/sqlite and storage/postgres) against bare baselines in one
// process: ingestion (chunks/s) and search latency (p50/p99 of keyword,
// vector and hybrid searches) at growing corpus sizes (10k and 100k chunks
// of 384 dimensions by default), each figure beside its baseline's and the
// ratio. The baselines do the same work without the store:
//
//   - ingestion: multi-row INSERTs of the same texts and vectors into a
//     bare table with the same indexes (SQLite: FTS5 + BLOB; PostgreSQL:
//     generated tsvector + GIN, vector(N) + HNSW), a transaction per content;
//   - keyword: the bare FTS5 MATCH ... ORDER BY bm25 / ts_rank_cd query;
//   - vector: SQLite a bare single-goroutine scan over one []float32; on
//     PostgreSQL the bare pgvector ORDER BY embedding <=> $1 LIMIT 10;
//   - hybrid: both bare searches fused with the same RRF (k = 60).
//
// It also reports the recall@10 of PostgreSQL's HNSW searches against the
// exact answer, and SQLite's vector search right after a content's write
// (which decodes that content's embeddings again).
//
//	go run ./bench/cmd/kbench [-sizes 10000,100000] [-dims 384] [-queries 200] [-backends sqlite,postgres] [-json]
//
// PostgreSQL is the server of TEST_DATABASE_URL (default the local test
// server); the tool works in a schema of its own, dropped at the end, and
// needs pgvector there (scripts/pgvector.sh).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

type options struct {
	sizes    []int
	dims     int
	topics   int
	queries  int
	per      int
	backends []string
	json     bool
	quiet    bool
	cpuprof  string // file for the CPU profile of the store's vector searches at the last size
}

// result is one measured figure: agentgate's store and the baseline.
type result struct {
	Backend  string  `json:"backend"`
	Chunks   int     `json:"chunks"`
	Metric   string  `json:"metric"`
	Unit     string  `json:"unit"`
	Store    float64 `json:"store"`
	Baseline float64 `json:"baseline"`
	// Ratio is store / baseline for a rate, baseline / store for a
	// latency: below 1 is slower than the baseline, always.
	Ratio float64 `json:"ratio"`
}

func main() {
	var o options
	sizes := flag.String("sizes", "10000,100000", "corpus sizes to measure at, ascending (chunks; each size adds to the previous)")
	backends := flag.String("backends", "sqlite,postgres", "backends to measure")
	flag.IntVar(&o.dims, "dims", 384, "embedding dimensions")
	flag.IntVar(&o.topics, "topics", 1000, "topics the embeddings cluster around, as real ones do (0: random points of the sphere, the worst case of an approximate index)")
	flag.IntVar(&o.queries, "queries", 200, "queries per search measurement (after 20 not counted)")
	flag.IntVar(&o.per, "per-content", 100, "chunks per content (one CompleteContent each)")
	flag.BoolVar(&o.json, "json", false, "print JSON instead of the table")
	flag.BoolVar(&o.quiet, "q", false, "no progress lines on stderr")
	flag.StringVar(&o.cpuprof, "cpuprofile", "", "write the CPU profile of the store's vector searches at the last size to this file (go tool pprof)")
	flag.Parse()
	var err error
	if o.sizes, err = parseSizes(*sizes); err != nil {
		fmt.Fprintln(os.Stderr, "kbench:", err)
		os.Exit(2)
	}
	o.backends = strings.Split(*backends, ",")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	results, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kbench:", err)
		os.Exit(1)
	}
	if o.json {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(results)
		return
	}
	printTable(o, results)
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 || (len(out) > 0 && n <= out[len(out)-1]) {
			return nil, fmt.Errorf("-sizes %q: want ascending positive counts", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// run measures every backend at every size.
func run(ctx context.Context, o options) ([]result, error) {
	dir, err := os.MkdirTemp("", "kbench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var out []result
	for _, b := range o.backends {
		var t target
		switch b {
		case "sqlite":
			t, err = newSQLiteTarget(ctx, filepath.Join(dir, "state.db"), filepath.Join(dir, "bare.db"), o.dims)
		case "postgres":
			t, err = newPostgresTarget(ctx, o.dims)
		default:
			err = fmt.Errorf("unknown backend %q (want sqlite, postgres)", b)
		}
		if err != nil {
			return nil, err
		}
		rs, err := measure(ctx, o, b, t)
		if cerr := t.close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b, err)
		}
		out = append(out, rs...)
	}
	return out, nil
}

// measure ingests the corpus size by size and measures at each.
func measure(ctx context.Context, o options, name string, t target) ([]result, error) {
	c := newCorpus(o.dims, o.topics)
	if wc, ok := t.(interface{ withCorpus(*corpus) }); ok {
		wc.withCorpus(c)
	}
	var out []result
	add := func(size int, metric, unit string, store, base float64, rate bool) {
		r := result{Backend: name, Chunks: size, Metric: metric, Unit: unit, Store: store, Baseline: base}
		if rate {
			r.Ratio = store / base
		} else {
			r.Ratio = base / store
		}
		out = append(out, r)
		o.progress("%s %d %s: store %.2f, baseline %.2f %s (ratio %.2f)", name, size, metric, store, base, unit, r.Ratio)
	}
	done := 0
	for _, size := range o.sizes {
		o.progress("%s: ingesting chunks %d to %d", name, done, size)
		storeRate, err := ingest(ctx, c, done, size, o.per, t.ingest)
		if err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
		baseRate, err := ingest(ctx, c, done, size, o.per, t.ingestBare)
		if err != nil {
			return nil, fmt.Errorf("bare ingest: %w", err)
		}
		done = size
		add(size, "ingestion", "chunks/s", storeRate, baseRate, true)
		if a, ok := t.(interface{ analyze(context.Context) error }); ok {
			if err := a.analyze(ctx); err != nil {
				return nil, err
			}
		}
		if cold, ok := t.(interface {
			coldVector(context.Context, []float32) (time.Duration, time.Duration, error)
		}); ok {
			first, after, err := cold.coldVector(ctx, c.queries(1, size)[0].vector)
			if err != nil {
				return nil, err
			}
			add(size, "vector, the base's first search", "ms", ms(first), ms(first), false)
			add(size, "vector, first after a content's write", "ms", ms(after), ms(after), false)
		}
		qs := c.queries(o.queries+20, size)
		for _, kind := range []string{"keyword", "vector", "hybrid"} {
			o.progress("%s: %d chunks: %s search", name, size, kind)
			prof := o.cpuprof != "" && kind == "vector" && size == o.sizes[len(o.sizes)-1]
			if prof {
				f, err := os.Create(o.cpuprof)
				if err != nil {
					return nil, err
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					return nil, errors.Join(err, f.Close())
				}
				defer f.Close()
			}
			st, err := latencies(ctx, qs, func(ctx context.Context, q query) error {
				_, err := t.search(ctx, kind, q)
				return err
			})
			if prof {
				pprof.StopCPUProfile()
			}
			if err != nil {
				return nil, fmt.Errorf("%s search: %w", kind, err)
			}
			bt, err := latencies(ctx, qs, func(ctx context.Context, q query) error {
				_, err := t.searchBare(ctx, kind, q)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("bare %s search: %w", kind, err)
			}
			add(size, kind+" p50", "ms", ms(st.p50), ms(bt.p50), false)
			add(size, kind+" p99", "ms", ms(st.p99), ms(bt.p99), false)
		}
		if name == "postgres" {
			r, err := recall(ctx, c, qs[:min(50, len(qs))], size, t.search)
			if err != nil {
				return nil, err
			}
			br, err := recall(ctx, c, qs[:min(50, len(qs))], size, t.searchBare)
			if err != nil {
				return nil, err
			}
			add(size, "vector recall@10 (HNSW vs exact)", "", r, br, true)
		}
	}
	return out, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (o options) progress(format string, args ...any) {
	if !o.quiet {
		fmt.Fprintf(os.Stderr, "kbench: "+format+"\n", args...)
	}
}

// ingest writes chunks [from, to) in contents of per chunks and returns
// the rate.
func ingest(ctx context.Context, c *corpus, from, to, per int, write func(ctx context.Context, content string, chunks []chunk) error) (float64, error) {
	start := time.Now()
	for lo := from; lo < to; lo += per {
		hi := min(lo+per, to)
		batch := make([]chunk, 0, hi-lo)
		for i := lo; i < hi; i++ {
			batch = append(batch, c.chunk(i))
		}
		if err := write(ctx, fmt.Sprintf("content-%d", lo), batch); err != nil {
			return 0, err
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
	}
	return float64(to-from) / time.Since(start).Seconds(), nil
}

type stats struct{ p50, p99 time.Duration }

// latencies runs fn for every query, the first 20 not counted.
func latencies(ctx context.Context, qs []query, fn func(context.Context, query) error) (stats, error) {
	var ds []time.Duration
	for i, q := range qs {
		start := time.Now()
		if err := fn(ctx, q); err != nil {
			return stats{}, err
		}
		if i >= 20 {
			ds = append(ds, time.Since(start))
		}
	}
	if len(ds) == 0 {
		return stats{}, errors.New("no queries")
	}
	slices.Sort(ds)
	return stats{p50: ds[len(ds)/2], p99: ds[min(len(ds)-1, len(ds)*99/100)]}, nil
}

// recall is the mean share of the exact 10 nearest a vector search finds.
func recall(ctx context.Context, c *corpus, qs []query, size int, search func(context.Context, string, query) ([]int, error)) (float64, error) {
	var sum float64
	for _, q := range qs {
		got, err := search(ctx, "vector", q)
		if err != nil {
			return 0, err
		}
		exact := c.exact(q.vector, size, 10)
		hit := 0
		for _, id := range got {
			if slices.Contains(exact, id) {
				hit++
			}
		}
		sum += float64(hit) / float64(len(exact))
	}
	return sum / float64(len(qs)), nil
}

func printTable(o options, rs []result) {
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "backend\tchunks\tmetric\tstore\tbaseline\tratio\t\n")
	for _, r := range rs {
		f := func(v float64) string {
			if r.Unit == "" {
				return strconv.FormatFloat(v, 'f', 3, 64)
			}
			if r.Unit == "chunks/s" {
				return strconv.FormatFloat(v, 'f', 0, 64) + " " + r.Unit
			}
			return strconv.FormatFloat(v, 'f', 2, 64) + " " + r.Unit
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%.2f\t\n", r.Backend, r.Chunks, r.Metric, f(r.Store), f(r.Baseline), r.Ratio)
	}
	_ = w.Flush()
	fmt.Printf("\n%d dims (%s), %d queries per search, %d chunks per content; ratio: store/baseline for a rate, baseline/store for a latency (1 = as fast as the baseline)\n",
		o.dims, corpusKind(o.topics), o.queries, o.per)
}

func corpusKind(topics int) string {
	if topics == 0 {
		return "random unit vectors"
	}
	return strconv.Itoa(topics) + " topics"
}
