package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

func TestSplitFrames(t *testing.T) {
	body := []byte("id: 0\nevent: RunStarted\ndata: {\"a\":1}\n\nid: 1\nevent: RunCompleted\ndata: {}\n\n")
	frames := splitFrames(body)
	if len(frames) != 2 {
		t.Fatalf("got %d frames, want 2", len(frames))
	}
	ev, data, ok := frameData(frames[1])
	if !ok || ev != "RunCompleted" || string(data) != "{}" {
		t.Fatalf("frameData = %q %q %v", ev, data, ok)
	}
	if got := string(bytes.Join(frames, nil)); got != string(body) {
		t.Fatalf("frames do not join back to the body: %q", got)
	}
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	p := percentilesOf(d)
	if p.P50 != 50*time.Millisecond || p.P99 != 99*time.Millisecond || p.Max != 100*time.Millisecond {
		t.Fatalf("percentiles = %+v", p)
	}
	if (percentilesOf(nil) != percentiles{}) {
		t.Fatal("empty input should give zero percentiles")
	}
}

func TestUnknownProfile(t *testing.T) {
	o := options{duration: time.Second, concurrency: 1, profile: "mysql-kafka"}
	err := o.validate()
	if err == nil || !strings.Contains(err.Error(), "embedded") || !strings.Contains(err.Error(), "postgres-redis") {
		t.Fatalf("validate = %v, want an error listing the profiles", err)
	}
}

// TestRunShort runs the whole tool briefly, in both output formats.
func TestRunShort(t *testing.T) {
	o := options{duration: 300 * time.Millisecond, concurrency: 4, profile: "embedded", quiet: true}
	var out bytes.Buffer
	if err := run(context.Background(), o, &out, &out); err != nil {
		t.Fatal(err)
	}
	table := out.String()
	for _, want := range []string{"blocking runs/s", "streaming TTFE p50", "targets: blocking runs/s >= 40% of baseline", "byte-identical"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); strings.HasPrefix(line, "errors ") && (len(f) < 4 || f[2] != "0/0" || f[3] != "0/0") {
			t.Errorf("errors in the run:\n%s", table)
		}
	}

	// Two interleaved rounds: each figure is a round's, every round's rate
	// is reported; -chunks 14 (#20's setting) makes a stream of 19 frames.
	o.json, o.rounds, o.duration, o.chunks = true, 2, 200*time.Millisecond, 14
	out.Reset()
	if err := run(context.Background(), o, &out, &out); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Rounds  int `json:"rounds"`
		Chunks  int `json:"chunks"`
		Frames  int `json:"stream_frames"`
		Results map[string]map[string]struct {
			Requests   int                `json:"requests"`
			Errors     int                `json:"errors"`
			RunsPerSec float64            `json:"runs_per_sec"`
			TTFE       map[string]float64 `json:"ttfe_ms"`
			Rounds     []float64          `json:"rounds_runs_per_sec"`
		} `json:"results"`
		Targets struct {
			BlockingRatio float64 `json:"blocking_runs_per_sec_ratio"`
		} `json:"targets"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	for _, tg := range []string{"agentgate", "baseline"} {
		for _, m := range []string{"blocking", "streaming"} {
			r := got.Results[tg][m]
			if r.Requests == 0 || r.Errors != 0 || r.RunsPerSec <= 0 {
				t.Errorf("%s %s: %+v", tg, m, r)
			}
			if (m == "streaming") != (r.TTFE != nil) {
				t.Errorf("%s %s: ttfe_ms %v", tg, m, r.TTFE)
			}
			if len(r.Rounds) != 2 || !slices.Contains(r.Rounds, r.RunsPerSec) {
				t.Errorf("%s %s: rounds %v, figure %v", tg, m, r.Rounds, r.RunsPerSec)
			}
		}
	}
	if got.Chunks != 14 || got.Frames != 19 {
		t.Errorf("-chunks 14: chunks %d, stream frames %d (want 19)", got.Chunks, got.Frames)
	}
	if got.Targets.BlockingRatio <= 0 || got.Rounds != 2 {
		t.Errorf("blocking ratio %v, rounds %d", got.Targets.BlockingRatio, got.Rounds)
	}
}

// TestCompareOrder: with -tracing-compare, the traced, untraced and
// control gateways each take every place among the gateways once in any
// three rounds, and the baseline alternates first and last.
func TestCompareOrder(t *testing.T) {
	gw, base, un, ctl := &target{name: "agentgate"}, &target{name: "baseline"}, &target{name: "untraced"}, &target{name: "control"}
	names := func(ts []*target) []string {
		out := make([]string, len(ts))
		for i, t := range ts {
			out[i] = t.name
		}
		return out
	}
	for start := range 4 {
		places := map[string]map[int]bool{}
		for round := start; round < start+3; round++ {
			order := names(compareOrder(round, gw, base, un, ctl))
			if len(order) != 4 {
				t.Fatalf("round %d: %v", round, order)
			}
			gws := order[:3]
			if round%2 == 1 {
				if order[0] != "baseline" {
					t.Errorf("round %d: %v, want the baseline first", round, order)
				}
				gws = order[1:]
			} else if order[3] != "baseline" {
				t.Errorf("round %d: %v, want the baseline last", round, order)
			}
			for i, n := range gws {
				if places[n] == nil {
					places[n] = map[int]bool{}
				}
				places[n][i] = true
			}
		}
		for _, n := range []string{"agentgate", "untraced", "control"} {
			if len(places[n]) != 3 {
				t.Errorf("rounds %d-%d: %s took places %v, want each of 0, 1, 2 once", start, start+2, n, places[n])
			}
		}
	}
	if got := names(roundOrder(0, gw, base)); !slices.Equal(got, []string{"agentgate", "baseline"}) {
		t.Errorf("round 0 without compare: %v", got)
	}
	if got := names(roundOrder(1, gw, base)); !slices.Equal(got, []string{"baseline", "agentgate"}) {
		t.Errorf("round 1 without compare: %v", got)
	}
}

// TestTracingCompareShort: -tracing-compare measures the traced gateway,
// the untraced one and the A/A control, and reports both ratios.
func TestTracingCompareShort(t *testing.T) {
	o := options{duration: 200 * time.Millisecond, concurrency: 4, profile: "embedded", quiet: true,
		tracing: true, compare: true, rounds: 3}
	var out bytes.Buffer
	if err := run(context.Background(), o, &out, &out); err != nil {
		t.Fatal(err)
	}
	table := out.String()
	for _, want := range []string{"A/A, both off", "on/off", "CPU per blocking run", "cpu off", "tracing on: blocking runs/s >= 90% of off", "(A/A "} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	o.json, o.rounds = true, 1
	out.Reset()
	if err := run(context.Background(), o, &out, &out); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Results map[string]map[string]struct {
			Requests int `json:"requests"`
			Errors   int `json:"errors"`
		} `json:"results"`
		Ratios map[string]float64 `json:"ratios"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	for _, tg := range []string{"agentgate", "untraced", "control"} {
		for _, m := range []string{"blocking", "streaming"} {
			if r := got.Results[tg][m]; r.Requests == 0 || r.Errors != 0 {
				t.Errorf("%s %s: %+v", tg, m, r)
			}
		}
	}
	for _, k := range []string{"tracing_blocking_runs_per_sec", "tracing_streaming_runs_per_sec",
		"tracing_aa_blocking_runs_per_sec", "tracing_aa_streaming_runs_per_sec",
		"tracing_cpu_per_blocking_run", "tracing_aa_cpu_per_blocking_run", "tracing_cpu_per_streaming_run"} {
		if got.Ratios[k] <= 0 {
			t.Errorf("ratio %s = %v", k, got.Ratios[k])
		}
	}
}

func TestMedianRound(t *testing.T) {
	rs := []result{
		{PerSecond: 300, Requests: 3, Errors: 1, FirstErr: "first", CPUPerOp: 30 * time.Microsecond},
		{PerSecond: 100, Requests: 1, Latency: percentiles{P50: time.Millisecond}, CPUPerOp: 10 * time.Microsecond},
		{PerSecond: 200, Requests: 2, Errors: 2, Latency: percentiles{P50: 2 * time.Millisecond}, CPUPerOp: 50 * time.Microsecond},
	}
	m := medianRound(rs)
	// The CPU per request is the rounds' median on its own (30µs), not
	// the median-rate round's (50µs).
	if m.CPUPerOp != 30*time.Microsecond || len(m.RoundsCPUPerOp) != 3 || m.RoundsCPUPerOp[2] != 50*time.Microsecond {
		t.Errorf("cpu per op %v, rounds %v", m.CPUPerOp, m.RoundsCPUPerOp)
	}
	if m.PerSecond != 200 || m.Requests != 2 || m.Latency.P50 != 2*time.Millisecond {
		t.Errorf("median = %+v, want the 200/s round whole", m)
	}
	if !slices.Equal(m.RoundsPerSecond, []float64{300, 100, 200}) || m.Errors != 3 || m.FirstErr != "first" {
		t.Errorf("rounds %v, errors %d %q; want every round's rate in order and all the errors", m.RoundsPerSecond, m.Errors, m.FirstErr)
	}
	// An even number: the lower middle. One round: itself, no list.
	if m := medianRound(rs[1:]); m.PerSecond != 100 {
		t.Errorf("median of two = %v, want the lower", m.PerSecond)
	}
	if m := medianRound(rs[:1]); m.PerSecond != 300 || m.RoundsPerSecond != nil {
		t.Errorf("one round = %+v", m)
	}
	if m := medianRound(nil); m.Requests != 0 {
		t.Errorf("no round = %+v", m)
	}
}

// TestPostgresRedisShort runs the postgres-redis profile briefly against the
// PostgreSQL and Redis of BENCH_DATABASE_URL / BENCH_REDIS_URL (default: the
// local servers). It fails, never skips, when they cannot be reached. It
// checks both outputs of the one run, that nothing failed, and that the
// profile removed its schema and its keys.
func TestPostgresRedisShort(t *testing.T) {
	o := options{duration: 250 * time.Millisecond, warmup: 50 * time.Millisecond, concurrency: 4, profile: "postgres-redis"}
	var progress bytes.Buffer
	rep, err := measureAll(context.Background(), o, &progress)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}

	var table bytes.Buffer
	rep.writeTable(&table)
	for _, want := range []string{
		"blocking runs/s", "streaming TTFE p50", "streaming TTFE p99", "resume first frame p50", "resume first frame p99",
		"event appends/s", "state writes/s", "byte-identical", "Last-Event-ID 4 of a finished 10-event run",
		"targets: blocking runs/s >= 2000: ", "; resume p99 < 10ms: ",
	} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	for _, line := range strings.Split(table.String(), "\n") {
		if f := strings.Fields(line); strings.HasPrefix(line, "errors ") {
			if len(f) < 4 || strings.Trim(f[2], "0/") != "" || strings.Trim(f[3], "0/") != "" {
				t.Errorf("errors in the run:\n%s", table.String())
			}
		}
	}

	var out bytes.Buffer
	if err := rep.writeJSON(&out); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Results map[string]map[string]struct {
			Requests   int                `json:"requests"`
			Errors     int                `json:"errors"`
			RunsPerSec float64            `json:"runs_per_sec"`
			TTFE       map[string]float64 `json:"ttfe_ms"`
		} `json:"results"`
		Components map[string]struct {
			Agentgate, Baseline struct {
				Ops       int     `json:"ops"`
				Errors    int     `json:"errors"`
				OpsPerSec float64 `json:"ops_per_sec"`
			}
			Ratio float64 `json:"ratio"`
		} `json:"components"`
		Targets map[string]any `json:"targets"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	for _, tg := range []string{"agentgate", "baseline"} {
		for _, m := range []string{"blocking", "streaming", "resume"} {
			r := got.Results[tg][m]
			if r.Requests == 0 || r.Errors != 0 || r.RunsPerSec <= 0 {
				t.Errorf("%s %s: %+v", tg, m, r)
			}
			if (m != "blocking") != (r.TTFE != nil) {
				t.Errorf("%s %s: ttfe_ms %v", tg, m, r.TTFE)
			}
		}
	}
	for _, k := range []string{"event_append", "state_write"} {
		c, ok := got.Components[k]
		if !ok || c.Agentgate.Ops == 0 || c.Baseline.Ops == 0 || c.Agentgate.Errors+c.Baseline.Errors != 0 || c.Ratio <= 0 {
			t.Errorf("component %s: %+v", k, c)
		}
	}
	for _, k := range []string{"blocking_runs_per_sec", "blocking_pass", "resume_p99_ms", "resume_pass"} {
		if _, ok := got.Targets[k]; !ok {
			t.Errorf("targets lack %s: %v", k, got.Targets)
		}
	}

	// The profile named its schema and prefix in the progress; both must be gone.
	m := regexp.MustCompile(`schema (agentbench_[0-9a-f]+) \+ redis \S+ prefix (agentbench:[0-9a-f]+:)`).FindStringSubmatch(progress.String())
	if m == nil {
		t.Fatalf("no schema/prefix in the progress:\n%s", progress.String())
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, envOr(envDatabaseURL, defaultDatabaseURL))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, m[1]).Scan(&n); err != nil || n != 0 {
		t.Errorf("schema %s left behind (%d, %v)", m[1], n, err)
	}
	opts, err := redis.ParseURL(envOr(envRedisURL, defaultRedisURL))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	if keys, _, err := rdb.Scan(ctx, 0, m[2]+"*", 10000).Result(); err != nil || len(keys) != 0 {
		t.Errorf("keys under %s left behind (%d, %v)", m[2], len(keys), err)
	}
}

// TestPostgresRedisUnreachable: a server that cannot be reached is a clear
// error before anything is measured.
func TestPostgresRedisUnreachable(t *testing.T) {
	closed := closedPort(t)
	for _, c := range []struct{ env, url, want string }{
		{envDatabaseURL, "postgres://root@" + closed + "/test?sslmode=disable", "cannot reach PostgreSQL at"},
		{envRedisURL, "redis://" + closed + "/0", "cannot reach Redis at"},
	} {
		t.Run(c.env, func(t *testing.T) {
			t.Setenv(c.env, c.url)
			o := options{duration: time.Second, concurrency: 1, profile: "postgres-redis", quiet: true}
			var out bytes.Buffer
			err := run(context.Background(), o, &out, &out)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.env) {
				t.Fatalf("run = %v, want an error saying %q and naming %s", err, c.want, c.env)
			}
			if out.Len() != 0 {
				t.Errorf("output despite the error: %s", out.String())
			}
		})
	}
}

// closedPort returns 127.0.0.1:PORT where nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
