package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
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
	o := options{duration: time.Second, concurrency: 1, profile: "postgres-redis"}
	if err := o.validate(); err == nil || !strings.Contains(err.Error(), "embedded") {
		t.Fatalf("validate = %v, want an error listing the profiles", err)
	}
}

// TestRunShort runs the whole tool briefly, in both output formats.
func TestRunShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two servers")
	}
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

	o.json = true
	out.Reset()
	if err := run(context.Background(), o, &out, &out); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Results map[string]map[string]struct {
			Requests   int                `json:"requests"`
			Errors     int                `json:"errors"`
			RunsPerSec float64            `json:"runs_per_sec"`
			TTFE       map[string]float64 `json:"ttfe_ms"`
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
		}
	}
	if got.Targets.BlockingRatio <= 0 {
		t.Errorf("blocking ratio %v", got.Targets.BlockingRatio)
	}
}
