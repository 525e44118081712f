package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

// The paced profile, short, on both profiles: every stream (and every
// follower on the other replica) reads every token its model wrote, and
// the report carries the delivery latencies beside the baseline's. The
// streams last 2 s so that a follower attaching late on a loaded machine
// (CI under -race) still has tokens written after it attached.
func TestPacedShort(t *testing.T) {
	for _, profile := range []string{"embedded", "postgres-redis"} {
		t.Run(profile, func(t *testing.T) {
			o := options{profile: profile, tracing: true, json: true, quiet: true, pacedOn: true,
				paced: pacedOptions{streams: 6, rate: 40, length: 2 * time.Second, ramp: 50 * time.Millisecond}}
			var out, progress bytes.Buffer
			if err := run(context.Background(), o, &out, &progress); err != nil {
				t.Fatalf("%v\n%s", err, progress.String())
			}
			var rep pacedReport
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out.String())
			}
			wantRows := 1
			if profile == "postgres-redis" {
				wantRows = 2 // the streams on A, their followers on B
			}
			if len(rep.Results) != wantRows {
				t.Fatalf("results %+v", rep.Results)
			}
			tokens := o.paced.tokens()
			for _, r := range append([]*pacedResult{rep.Baseline}, rep.Results...) {
				if r.Complete != 6 || r.Errors != 0 || r.FirstError != "" {
					t.Errorf("%s: %d of 6 streams complete, %d errors (%s)", r.Target, r.Complete, r.Errors, r.FirstError)
				}
				if r.P50 <= 0 || r.P99 < r.P50 || r.Max < r.P99 || r.CPUPer1000 <= 0 || r.CPUPerToken <= 0 {
					t.Errorf("%s: figures %+v", r.Target, r)
				}
				if !strings.Contains(r.Target, "followers") && r.Tokens != 6*tokens {
					t.Errorf("%s measured %d tokens, want %d", r.Target, r.Tokens, 6*tokens)
				}
			}
			if profile == "postgres-redis" && rep.Results[1].Tokens == 0 {
				t.Errorf("the followers measured no token written after they attached")
			}
			if rep.Met {
				t.Errorf("6 streams cannot meet the 2,000-stream target: %+v", rep)
			}
		})
	}
}

func TestPacedOptions(t *testing.T) {
	for _, p := range []pacedOptions{{streams: 0, rate: 20, length: time.Second}, {streams: 1, rate: 0, length: time.Second},
		{streams: 1, rate: 20, length: 0}, {streams: 1, rate: 20, length: time.Second, ramp: -1}} {
		if p.validate() == nil {
			t.Errorf("%+v validated", p)
		}
	}
	if n := (pacedOptions{rate: 20, length: 10 * time.Second}).tokens(); n != 200 {
		t.Errorf("20/s for 10s: %d tokens", n)
	}
}

// readPaced counts stamped tokens (several in a frame too), measures only
// those written after since, and refuses a stream that ends before its run.
func TestReadPaced(t *testing.T) {
	now := time.Now()
	old, recent := stamp(now.Add(-time.Hour)), stamp(now.Add(-time.Millisecond))
	body := "event: RunStarted\ndata: {\"run_id\":\"r1\"}\n\n" +
		"event: RunContent\ndata: {\"content\":\"" + old + recent + "\"}\n\n" +
		"event: RunCompleted\ndata: {\"content\":\"" + old + recent + "\"}\n\n"
	var runID string
	lat, n, err := readPaced(io.NopCloser(strings.NewReader(body)), func(id string) { runID = id }, now.Add(-time.Minute))
	if err != nil || n != 2 || len(lat) != 1 || runID != "r1" {
		t.Fatalf("lat %v n %d err %v run %q", lat, n, err, runID)
	}
	if lat[0] < time.Millisecond || lat[0] > time.Minute {
		t.Errorf("latency %v", lat[0])
	}
	cut := "event: RunContent\ndata: {\"content\":\"" + recent + "\"}\n\n"
	if _, _, err := readPaced(io.NopCloser(strings.NewReader(cut)), nil, time.Time{}); err == nil {
		t.Errorf("a stream cut before its run ended was accepted")
	}
	if _, _, err := readPaced(io.NopCloser(strings.NewReader("event: RunError\ndata: {\"content\":\"boom\"}\n\n")), nil, time.Time{}); err == nil {
		t.Errorf("a RunError was accepted")
	}
}
