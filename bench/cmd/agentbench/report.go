package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// The targets.
const (
	targetBlockingRatio = 0.40 // agentgate blocking runs/s >= 40% of baseline
	targetTTFERatio     = 2.0  // agentgate TTFE p50 <= 2x baseline
)

// report is everything one run of the tool measured.
type report struct {
	Profile     string        `json:"profile"`
	ProfileDesc string        `json:"profile_description"`
	Concurrency int           `json:"concurrency"`
	Duration    time.Duration `json:"-"`
	Warmup      time.Duration `json:"-"`
	GOMAXPROCS  int           `json:"gomaxprocs"`
	GoVersion   string        `json:"go_version"`
	Baseline    string        `json:"baseline_mode"`
	RunBytes    int           `json:"run_json_bytes"`
	Frames      int           `json:"stream_frames"`
	StreamBytes int           `json:"stream_bytes"`

	// Results[target][mode], target "agentgate" | "baseline", mode
	// "blocking" | "streaming".
	Results map[string]map[string]*result `json:"-"`
}

func (r *report) get(target, mode string) *result {
	if m := r.Results[target]; m != nil {
		if res := m[mode]; res != nil {
			return res
		}
	}
	return &result{}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func durRatio(a, b time.Duration) float64 { return ratio(float64(a), float64(b)) }

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
}

type checks struct {
	BlockingRatio float64 `json:"blocking_runs_per_sec_ratio"`
	BlockingPass  bool    `json:"blocking_pass"`
	TTFERatio     float64 `json:"ttfe_p50_ratio"`
	TTFEPass      bool    `json:"ttfe_pass"`
}

func (r *report) checks() checks {
	ab, bb := r.get("agentgate", "blocking"), r.get("baseline", "blocking")
	as, bs := r.get("agentgate", "streaming"), r.get("baseline", "streaming")
	var c checks
	c.BlockingRatio = ratio(ab.PerSecond, bb.PerSecond)
	c.BlockingPass = bb.PerSecond > 0 && c.BlockingRatio >= targetBlockingRatio
	if as.TTFE != nil && bs.TTFE != nil {
		c.TTFERatio = durRatio(as.TTFE.P50, bs.TTFE.P50)
		c.TTFEPass = bs.TTFE.P50 > 0 && as.TTFE.P50 > 0 && c.TTFERatio <= targetTTFERatio
	}
	return c
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// writeTable prints the human-readable report.
func (r *report) writeTable(w io.Writer) {
	fmt.Fprintf(w, "agentbench: profile %s (%s), concurrency %d, %s per measurement (+%s warm-up), GOMAXPROCS %d, %s\n",
		r.Profile, r.ProfileDesc, r.Concurrency, r.Duration, r.Warmup, r.GOMAXPROCS, r.GoVersion)
	fmt.Fprintf(w, "workload: agent %q, scripted model, 5 chunks, no delay; run JSON %d B; stream %d frames, %d B; baseline %s\n\n",
		benchAgentID, r.RunBytes, r.Frames, r.StreamBytes, r.Baseline)

	const rowFmt = "%-28s %12s %12s %9s\n"
	fmt.Fprintf(w, rowFmt, "figure", "agentgate", "baseline", "ratio")
	ab, bb := r.get("agentgate", "blocking"), r.get("baseline", "blocking")
	as, bs := r.get("agentgate", "streaming"), r.get("baseline", "streaming")
	row := func(name, a, b string, x float64) {
		rs := "-"
		if x > 0 {
			rs = fmt.Sprintf("%.2fx", x)
		}
		fmt.Fprintf(w, rowFmt, name, a, b, rs)
	}
	rate := func(name string, a, b *result) {
		row(name, fmt.Sprintf("%.0f", a.PerSecond), fmt.Sprintf("%.0f", b.PerSecond), ratio(a.PerSecond, b.PerSecond))
	}
	lat := func(name string, a, b time.Duration) { row(name, fmtDur(a), fmtDur(b), durRatio(a, b)) }
	rate("blocking runs/s", ab, bb)
	lat("blocking latency p50", ab.Latency.P50, bb.Latency.P50)
	lat("blocking latency p99", ab.Latency.P99, bb.Latency.P99)
	rate("streaming runs/s", as, bs)
	var at, bt percentiles
	if as.TTFE != nil {
		at = *as.TTFE
	}
	if bs.TTFE != nil {
		bt = *bs.TTFE
	}
	lat("streaming TTFE p50", at.P50, bt.P50)
	lat("streaming TTFE p99", at.P99, bt.P99)
	lat("streaming full run p50", as.Latency.P50, bs.Latency.P50)
	lat("streaming full run p99", as.Latency.P99, bs.Latency.P99)
	row("errors (blocking/streaming)", fmt.Sprintf("%d/%d", ab.Errors, as.Errors), fmt.Sprintf("%d/%d", bb.Errors, bs.Errors), 0)

	for _, t := range []string{"agentgate", "baseline"} {
		for _, m := range []string{"blocking", "streaming"} {
			if e := r.get(t, m).FirstErr; e != "" {
				fmt.Fprintf(w, "first %s %s error: %s\n", t, m, e)
			}
		}
	}
	c := r.checks()
	fmt.Fprintf(w, "\ntargets: blocking runs/s >= %.0f%% of baseline: %.1f%% %s; streaming TTFE p50 <= %.0fx baseline: %.2fx %s\n",
		targetBlockingRatio*100, c.BlockingRatio*100, passMiss(c.BlockingPass),
		targetTTFERatio, c.TTFERatio, passMiss(c.TTFEPass))
}

// jsonResult is a result with durations in milliseconds.
type jsonResult struct {
	Requests      int                `json:"requests"`
	Errors        int                `json:"errors"`
	FirstError    string             `json:"first_error,omitempty"`
	ElapsedSec    float64            `json:"elapsed_sec"`
	RunsPerSec    float64            `json:"runs_per_sec"`
	LatencyMillis map[string]float64 `json:"latency_ms"`
	TTFEMillis    map[string]float64 `json:"ttfe_ms,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func pctMap(p percentiles) map[string]float64 {
	return map[string]float64{"p50": ms(p.P50), "p90": ms(p.P90), "p99": ms(p.P99), "max": ms(p.Max)}
}

// writeJSON prints the machine-readable report.
func (r *report) writeJSON(w io.Writer) error {
	results := map[string]map[string]jsonResult{}
	for t, modes := range r.Results {
		results[t] = map[string]jsonResult{}
		for m, res := range modes {
			jr := jsonResult{
				Requests: res.Requests, Errors: res.Errors, FirstError: res.FirstErr,
				ElapsedSec: res.Elapsed.Seconds(), RunsPerSec: res.PerSecond,
				LatencyMillis: pctMap(res.Latency),
			}
			if res.TTFE != nil {
				jr.TTFEMillis = pctMap(*res.TTFE)
			}
			results[t][m] = jr
		}
	}
	ab, bb := r.get("agentgate", "blocking"), r.get("baseline", "blocking")
	as, bs := r.get("agentgate", "streaming"), r.get("baseline", "streaming")
	ratios := map[string]float64{
		"blocking_runs_per_sec":  ratio(ab.PerSecond, bb.PerSecond),
		"blocking_latency_p50":   durRatio(ab.Latency.P50, bb.Latency.P50),
		"blocking_latency_p99":   durRatio(ab.Latency.P99, bb.Latency.P99),
		"streaming_runs_per_sec": ratio(as.PerSecond, bs.PerSecond),
		"streaming_run_p50":      durRatio(as.Latency.P50, bs.Latency.P50),
		"streaming_run_p99":      durRatio(as.Latency.P99, bs.Latency.P99),
	}
	if as.TTFE != nil && bs.TTFE != nil {
		ratios["streaming_ttfe_p50"] = durRatio(as.TTFE.P50, bs.TTFE.P50)
		ratios["streaming_ttfe_p99"] = durRatio(as.TTFE.P99, bs.TTFE.P99)
	}
	out := struct {
		*report
		DurationSec float64                          `json:"duration_sec"`
		WarmupSec   float64                          `json:"warmup_sec"`
		Results     map[string]map[string]jsonResult `json:"results"`
		Ratios      map[string]float64               `json:"ratios"`
		Targets     checks                           `json:"targets"`
	}{r, r.Duration.Seconds(), r.Warmup.Seconds(), results, ratios, r.checks()}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// progress reports what is being measured (stderr, unless -q).
type progress struct {
	w     io.Writer
	quiet bool
}

func (p progress) printf(format string, args ...any) {
	if p.quiet {
		return
	}
	fmt.Fprintf(p.w, format, args...)
	if !strings.HasSuffix(format, "\n") {
		fmt.Fprintln(p.w)
	}
}
