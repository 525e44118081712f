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
	Chunks      int           `json:"chunks"`
	Duration    time.Duration `json:"-"`
	Warmup      time.Duration `json:"-"`
	Rounds      int           `json:"rounds"`
	GOMAXPROCS  int           `json:"gomaxprocs"`
	GoVersion   string        `json:"go_version"`
	Baseline    string        `json:"baseline_mode"`
	RunBytes    int           `json:"run_json_bytes"`
	Frames      int           `json:"stream_frames"`
	StreamBytes int           `json:"stream_bytes"`

	// Resume workload (profiles with resume): the cursor sent, and the
	// frames and bytes replayed after it; over ResumeRuns finished runs.
	ResumeAfter  *int64 `json:"resume_last_event_id,omitempty"`
	ResumeFrames int    `json:"resume_frames,omitempty"`
	ResumeBytes  int    `json:"resume_bytes,omitempty"`
	ResumeRuns   int    `json:"resume_runs,omitempty"`

	// Results[target][mode], target "agentgate" | "baseline", mode
	// "blocking" | "streaming" | "resume".
	Results map[string]map[string]*result `json:"-"`

	// Components are the profile's direct backend measurements.
	Components []*component `json:"-"`
}

// component is one direct measurement of a backend of agentgate (Agentgate:
// through agentgate's own storage package) next to a raw client doing the
// nearest bare operation (Baseline), with the same concurrency.
type component struct {
	Key         string // JSON key
	Label       string // table row of the rate: "event appends/s"
	Name        string // of the latency rows and the notes: "event append"
	Short       string // in the errors row: "append"
	Unit        string
	AgentgateOp string // what one agentgate operation is
	BaselineOp  string // what one baseline operation is
	PayloadSize int    // bytes of the event / run written
	PoolConns   int    // connection pool size of both sides (0: client default)
	Agentgate   result
	Baseline    result
}

// check is one of the targets on the report's last line.
type check struct {
	what  string // "blocking runs/s >= 40% of baseline"
	shown string // the measured figure as printed
	pass  bool
	// In the JSON: targets[key] = value, targets[passKey] = pass.
	key     string
	value   float64
	passKey string
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

// embeddedChecks: blocking runs/s at least 40% of the baseline's, TTFE p50
// at most 2x the baseline's.
func embeddedChecks(r *report) []check {
	ab, bb := r.get("agentgate", "blocking"), r.get("baseline", "blocking")
	as, bs := r.get("agentgate", "streaming"), r.get("baseline", "streaming")
	blocking := ratio(ab.PerSecond, bb.PerSecond)
	var ttfe float64
	ttfePass := false
	if as.TTFE != nil && bs.TTFE != nil {
		ttfe = durRatio(as.TTFE.P50, bs.TTFE.P50)
		ttfePass = bs.TTFE.P50 > 0 && as.TTFE.P50 > 0 && ttfe <= targetTTFERatio
	}
	return []check{
		{
			what:  fmt.Sprintf("blocking runs/s >= %.0f%% of baseline", targetBlockingRatio*100),
			shown: fmt.Sprintf("%.1f%%", blocking*100), pass: bb.PerSecond > 0 && blocking >= targetBlockingRatio,
			key: "blocking_runs_per_sec_ratio", value: blocking, passKey: "blocking_pass",
		},
		{
			what:  fmt.Sprintf("streaming TTFE p50 <= %.0fx baseline", targetTTFERatio),
			shown: fmt.Sprintf("%.2fx", ttfe), pass: ttfePass,
			key: "ttfe_p50_ratio", value: ttfe, passKey: "ttfe_pass",
		},
	}
}

// targetTracingRatio is the share of untraced blocking runs/s that
// traced runs must keep (-tracing-compare).
const targetTracingRatio = 0.90

// checks returns the profile's targets, evaluated, and with
// -tracing-compare the cost of tracing.
func (r *report) checks() []check {
	var out []check
	if p, ok := profiles[r.Profile]; ok && p.checks != nil {
		out = p.checks(r)
	}
	if r.Results["untraced"] != nil {
		on, off := r.get("agentgate", "blocking"), r.get("untraced", "blocking")
		x := ratio(on.PerSecond, off.PerSecond)
		aa := ratio(r.get("control", "blocking").PerSecond, off.PerSecond)
		out = append(out, check{
			what:  fmt.Sprintf("tracing on: blocking runs/s >= %.0f%% of off", targetTracingRatio*100),
			shown: fmt.Sprintf("%.1f%% (A/A %.1f%%)", x*100, aa*100), pass: off.PerSecond > 0 && x >= targetTracingRatio,
			key: "tracing_blocking_runs_per_sec_ratio", value: x, passKey: "tracing_pass",
		})
	}
	return out
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// writeTable prints the human-readable report.
func (r *report) writeTable(w io.Writer) {
	fmt.Fprintf(w, "agentbench: profile %s (%s), concurrency %d, %s per measurement (+%s warm-up), %s, GOMAXPROCS %d, %s\n",
		r.Profile, r.ProfileDesc, r.Concurrency, r.Duration, r.Warmup, roundsNote(r.Rounds), r.GOMAXPROCS, r.GoVersion)
	fmt.Fprintf(w, "workload: agent %q, scripted model, %d chunks, no delay; run JSON %d B; stream %d frames, %d B; baseline %s\n\n",
		benchAgentID, r.Chunks, r.RunBytes, r.Frames, r.StreamBytes, r.Baseline)

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
	ar, br := r.get("agentgate", "resume"), r.get("baseline", "resume")
	hasResume := r.Results["agentgate"]["resume"] != nil
	if hasResume {
		var at, bt percentiles
		if ar.TTFE != nil {
			at = *ar.TTFE
		}
		if br.TTFE != nil {
			bt = *br.TTFE
		}
		rate("resumes/s", ar, br)
		lat("resume first frame p50", at.P50, bt.P50)
		lat("resume first frame p99", at.P99, bt.P99)
		row("errors (block/stream/resume)", fmt.Sprintf("%d/%d/%d", ab.Errors, as.Errors, ar.Errors),
			fmt.Sprintf("%d/%d/%d", bb.Errors, bs.Errors, br.Errors), 0)
	} else {
		row("errors (blocking/streaming)", fmt.Sprintf("%d/%d", ab.Errors, as.Errors), fmt.Sprintf("%d/%d", bb.Errors, bs.Errors), 0)
	}
	if len(r.Components) > 0 {
		fmt.Fprintf(w, "\n"+rowFmt, "component", "agentgate", "raw client", "ratio")
		var names, aErrs, bErrs []string
		for _, c := range r.Components {
			a, b := &c.Agentgate, &c.Baseline
			rate(c.Label, a, b)
			lat(c.Name+" latency p50", a.Latency.P50, b.Latency.P50)
			lat(c.Name+" latency p99", a.Latency.P99, b.Latency.P99)
			names = append(names, c.Short)
			aErrs = append(aErrs, fmt.Sprint(a.Errors))
			bErrs = append(bErrs, fmt.Sprint(b.Errors))
		}
		row("errors ("+strings.Join(names, "/")+")", strings.Join(aErrs, "/"), strings.Join(bErrs, "/"), 0)
	}

	modes := []string{"blocking", "streaming"}
	if hasResume {
		modes = append(modes, "resume")
	}
	if r.Rounds > 1 {
		fmt.Fprintf(w, "\nper round (/s, in the order measured; the figures above are each target's median round):\n")
		for _, m := range modes {
			for _, t := range []string{"agentgate", "baseline"} {
				fmt.Fprintf(w, "  %-10s %-9s %s\n", m, t, fmtRates(r.get(t, m).RoundsPerSecond))
			}
		}
	}
	for _, t := range []string{"agentgate", "baseline"} {
		for _, m := range modes {
			if e := r.get(t, m).FirstErr; e != "" {
				fmt.Fprintf(w, "first %s %s error: %s\n", t, m, e)
			}
		}
	}
	for _, c := range r.Components {
		for _, side := range []struct {
			name string
			res  *result
		}{{"agentgate", &c.Agentgate}, {"raw client", &c.Baseline}} {
			if side.res.FirstErr != "" {
				fmt.Fprintf(w, "first %s %s error: %s\n", side.name, c.Key, side.res.FirstErr)
			}
		}
	}
	if hasResume {
		fmt.Fprintf(w, "\nresume: GET /agents/%s/runs/{run_id}/stream, Last-Event-ID %d of a finished %d-event run (round robin over %d runs); "+
			"first frame = request sent -> first replayed frame read whole; baseline: bare fiber handler sending the same %d frames (%d B)\n",
			benchAgentID, *r.ResumeAfter, r.Frames, r.ResumeRuns, r.ResumeFrames, r.ResumeBytes)
	}
	for _, c := range r.Components {
		pool := ""
		if c.PoolConns > 0 {
			pool = fmt.Sprintf(", pool of %d connections each", c.PoolConns)
		}
		fmt.Fprintf(w, "%s: %d goroutines, %s each (+%s warm-up)%s, %d B payload\n  agentgate:  %s\n  raw client: %s\n",
			c.Name+"s", r.Concurrency, componentDuration(r.Duration), componentDuration(r.Warmup), pool, c.PayloadSize, c.AgentgateOp, c.BaselineOp)
	}
	if r.Results["untraced"] != nil {
		ub, us := r.get("untraced", "blocking"), r.get("untraced", "streaming")
		fmt.Fprintf(w, "\n"+rowFmt, "tracing", "on", "off", "ratio")
		rate("blocking runs/s", ab, ub)
		lat("blocking latency p50", ab.Latency.P50, ub.Latency.P50)
		rate("streaming runs/s", as, us)
		lat("streaming full run p50", as.Latency.P50, us.Latency.P50)
		lat("CPU per blocking run", ab.CPUPerOp, ub.CPUPerOp)
		lat("CPU per streaming run", as.CPUPerOp, us.CPUPerOp)
		cb, cs := r.get("control", "blocking"), r.get("control", "streaming")
		fmt.Fprintf(w, rowFmt, "A/A, both off", "control", "untraced", "ratio")
		rate("blocking runs/s", cb, ub)
		rate("streaming runs/s", cs, us)
		lat("CPU per blocking run", cb.CPUPerOp, ub.CPUPerOp)
		lat("CPU per streaming run", cs.CPUPerOp, us.CPUPerOp)
		row("errors (blocking/streaming)", fmt.Sprintf("%d/%d", cb.Errors, cs.Errors), fmt.Sprintf("%d/%d", ub.Errors, us.Errors), 0)
		for _, t := range []string{"untraced", "control"} {
			for _, m := range []string{"blocking", "streaming"} {
				if e := r.get(t, m).FirstErr; e != "" {
					fmt.Fprintf(w, "first %s %s error: %s\n", t, m, e)
				}
			}
		}
		if r.Rounds > 1 {
			fmt.Fprintf(w, "per round (/s, round 1 first; the three gateways rotate their places from round to round):\n")
			for _, m := range []string{"blocking", "streaming"} {
				for _, t := range []string{"untraced", "control"} {
					fmt.Fprintf(w, "  %-10s %-9s %s\n", m, t, fmtRates(r.get(t, m).RoundsPerSecond))
				}
				on, off, ctl := r.get("agentgate", m), r.get("untraced", m), r.get("control", m)
				fmt.Fprintf(w, "  %-10s %-9s %s\n", m, "on/off", fmtRatios(roundRatios(on, off)))
				fmt.Fprintf(w, "  %-10s %-9s %s\n", m, "A/A", fmtRatios(roundRatios(ctl, off)))
				for _, t := range [][2]string{{"agentgate", "cpu on"}, {"untraced", "cpu off"}, {"control", "cpu ctl"}} {
					fmt.Fprintf(w, "  %-10s %-9s %s\n", m, t[1], fmtCPUs(r.get(t[0], m).RoundsCPUPerOp))
				}
			}
		}
	}
	var parts []string
	for _, c := range r.checks() {
		parts = append(parts, fmt.Sprintf("%s: %s %s", c.what, c.shown, passMiss(c.pass)))
	}
	fmt.Fprintf(w, "\ntargets: %s\n", strings.Join(parts, "; "))
}

// componentDuration gives the length of each component measurement and of
// its warm-up: half of -duration and of -warmup, to keep the default run of
// a profile with components under a minute.
func componentDuration(d time.Duration) time.Duration { return d / 2 }

// jsonResult is a result with durations in milliseconds.
type jsonResult struct {
	Requests      int                `json:"requests"`
	Errors        int                `json:"errors"`
	FirstError    string             `json:"first_error,omitempty"`
	ElapsedSec    float64            `json:"elapsed_sec"`
	RunsPerSec    float64            `json:"runs_per_sec"`
	LatencyMillis map[string]float64 `json:"latency_ms"`
	TTFEMillis    map[string]float64 `json:"ttfe_ms,omitempty"`
	// RoundsPerSec is every round's rate (the figures are the median
	// round's), when there were several.
	RoundsPerSec []float64 `json:"rounds_runs_per_sec,omitempty"`
	// CPUPerRunMicros is the process's CPU time per completed request
	// during the measurement (the median of the rounds'), in µs.
	CPUPerRunMicros float64 `json:"cpu_per_run_us,omitempty"`
}

// jsonComponent is a component in the JSON report; ratio is agentgate ÷
// raw client, of the rates.
type jsonComponent struct {
	Unit         string  `json:"unit"`
	AgentgateOp  string  `json:"agentgate_op"`
	BaselineOp   string  `json:"baseline_op"`
	PayloadBytes int     `json:"payload_bytes"`
	PoolConns    int     `json:"pool_conns,omitempty"`
	Agentgate    jsonOps `json:"agentgate"`
	Baseline     jsonOps `json:"baseline"`
	Ratio        float64 `json:"ratio"`
}

// jsonOps is a component measurement with durations in milliseconds.
type jsonOps struct {
	Ops           int                `json:"ops"`
	Errors        int                `json:"errors"`
	FirstError    string             `json:"first_error,omitempty"`
	ElapsedSec    float64            `json:"elapsed_sec"`
	OpsPerSec     float64            `json:"ops_per_sec"`
	LatencyMillis map[string]float64 `json:"latency_ms"`
}

func opsOf(res *result) jsonOps {
	return jsonOps{Ops: res.Requests, Errors: res.Errors, FirstError: res.FirstErr,
		ElapsedSec: res.Elapsed.Seconds(), OpsPerSec: res.PerSecond, LatencyMillis: pctMap(res.Latency)}
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
				LatencyMillis: pctMap(res.Latency), RoundsPerSec: res.RoundsPerSecond,
				CPUPerRunMicros: float64(res.CPUPerOp) / float64(time.Microsecond),
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
	if r.Results["untraced"] != nil {
		ratios["tracing_blocking_runs_per_sec"] = ratio(ab.PerSecond, r.get("untraced", "blocking").PerSecond)
		ratios["tracing_streaming_runs_per_sec"] = ratio(as.PerSecond, r.get("untraced", "streaming").PerSecond)
		ratios["tracing_aa_blocking_runs_per_sec"] = ratio(r.get("control", "blocking").PerSecond, r.get("untraced", "blocking").PerSecond)
		ratios["tracing_aa_streaming_runs_per_sec"] = ratio(r.get("control", "streaming").PerSecond, r.get("untraced", "streaming").PerSecond)
		for _, m := range []string{"blocking", "streaming"} {
			off := r.get("untraced", m).CPUPerOp
			ratios["tracing_cpu_per_"+m+"_run"] = durRatio(r.get("agentgate", m).CPUPerOp, off)
			ratios["tracing_aa_cpu_per_"+m+"_run"] = durRatio(r.get("control", m).CPUPerOp, off)
		}
	}
	if r.Results["agentgate"]["resume"] != nil {
		ar, br := r.get("agentgate", "resume"), r.get("baseline", "resume")
		ratios["resumes_per_sec"] = ratio(ar.PerSecond, br.PerSecond)
		if ar.TTFE != nil && br.TTFE != nil {
			ratios["resume_first_frame_p50"] = durRatio(ar.TTFE.P50, br.TTFE.P50)
			ratios["resume_first_frame_p99"] = durRatio(ar.TTFE.P99, br.TTFE.P99)
		}
	}
	var components map[string]jsonComponent
	for _, c := range r.Components {
		if components == nil {
			components = map[string]jsonComponent{}
		}
		components[c.Key] = jsonComponent{
			Unit: c.Unit, AgentgateOp: c.AgentgateOp, BaselineOp: c.BaselineOp,
			PayloadBytes: c.PayloadSize, PoolConns: c.PoolConns,
			Agentgate: opsOf(&c.Agentgate), Baseline: opsOf(&c.Baseline),
			Ratio: ratio(c.Agentgate.PerSecond, c.Baseline.PerSecond),
		}
	}
	targets := map[string]any{}
	for _, c := range r.checks() {
		targets[c.key] = c.value
		targets[c.passKey] = c.pass
	}
	out := struct {
		*report
		DurationSec float64                          `json:"duration_sec"`
		WarmupSec   float64                          `json:"warmup_sec"`
		Results     map[string]map[string]jsonResult `json:"results"`
		Ratios      map[string]float64               `json:"ratios"`
		Components  map[string]jsonComponent         `json:"components,omitempty"`
		Targets     map[string]any                   `json:"targets"`
	}{r, r.Duration.Seconds(), r.Warmup.Seconds(), results, ratios, components, targets}
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

// roundsNote says how many rounds each figure was taken from.
func roundsNote(rounds int) string {
	if rounds <= 1 {
		return "one round"
	}
	return fmt.Sprintf("median of %d interleaved rounds", rounds)
}

func fmtRates(rs []float64) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%.0f", r)
	}
	return strings.Join(parts, " ")
}

// roundRatios is a's rate over b's, round by round (both measured in the
// same rounds).
func roundRatios(a, b *result) []float64 {
	n := min(len(a.RoundsPerSecond), len(b.RoundsPerSecond))
	out := make([]float64, n)
	for i := range n {
		out[i] = ratio(a.RoundsPerSecond[i], b.RoundsPerSecond[i])
	}
	return out
}

func fmtRatios(rs []float64) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%.2f", r)
	}
	return strings.Join(parts, " ")
}

func fmtCPUs(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmtDur(d)
	}
	return strings.Join(parts, " ")
}
