package main

import (
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// TestRunSmall runs the tool end to end on a small corpus of both backends
// and checks every figure is a real measurement.
func TestRunSmall(t *testing.T) {
	o := options{sizes: []int{300, 600}, dims: 16, queries: 10, per: 100, backends: []string{"sqlite", "postgres"}, quiet: true}
	rs, err := run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rs {
		seen[r.Backend+" "+r.Metric] = true
		for _, v := range []float64{r.Store, r.Baseline, r.Ratio} {
			if !(v > 0) || math.IsInf(v, 0) {
				t.Errorf("%+v: not a measurement", r)
			}
		}
		if r.Metric == "vector recall@10 (HNSW vs exact)" && r.Store < 0.9 {
			t.Errorf("recall %v at %d chunks", r.Store, r.Chunks)
		}
	}
	for _, b := range o.backends {
		for _, m := range []string{"ingestion", "keyword p50", "keyword p99", "vector p50", "vector p99", "hybrid p50", "hybrid p99"} {
			if !seen[b+" "+m] {
				t.Errorf("no %s figure for %s", m, b)
			}
		}
	}
}

// TestSQLiteVectorIsExact: the store's in-process vector search answers
// exactly what a plain scan does, at a size where it runs in parallel.
func TestSQLiteVectorIsExact(t *testing.T) {
	for _, per := range []int{500, 10000} { // many contents; one, split among the cores
		t.Run(strconv.Itoa(per), func(t *testing.T) { testVectorIsExact(t, per) })
	}
}

func testVectorIsExact(t *testing.T, per int) {
	ctx := t.Context()
	dir := t.TempDir()
	tg, err := newSQLiteTarget(ctx, filepath.Join(dir, "s.db"), filepath.Join(dir, "b.db"), 24)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.close()
	c := newCorpus(24, 0)
	if _, err := ingest(ctx, c, 0, 10000, per, tg.ingest); err != nil {
		t.Fatal(err)
	}
	for i, q := range c.queries(20, 10000) {
		got, err := tg.search(ctx, "vector", q)
		if err != nil {
			t.Fatal(err)
		}
		if want := c.exact(q.vector, 10000, 10); !slices.Equal(got, want) {
			t.Fatalf("query %d: %v, want %v", i, got, want)
		}
	}
}
