package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// resumeRuns is how many finished runs the resume measurement spreads its
// requests over (each request takes the next one, round robin).
const resumeRuns = 64

// resumeCapture is the material of the resume measurement: finished runs of
// agentgate, the cursor (an index in the middle of their streams) and
// agentgate's real answer for the first of them, which the baseline
// replays.
type resumeCapture struct {
	runs   []string // run ids, all finished, with identical event streams
	after  int64    // the Last-Event-ID sent
	frames [][]byte // agentgate's answer for runs[0]: the frames after `after`
	next   atomic.Uint64
}

func (r *resumeCapture) bytes() int {
	n := 0
	for _, f := range r.frames {
		n += len(f)
	}
	return n
}

// streamURL is the resume endpoint of run on t.
func (t *target) streamURL(runID string) string {
	return t.runsURL() + "/" + runID + "/stream"
}

// prepareResume creates resumeRuns finished runs on agentgate (blocking
// runs), picks the cursor in the middle of a run's stream (whose length the
// captured stream gives) and records agentgate's answer to a resume of the
// first run.
func prepareResume(ctx context.Context, gw *target, capt *capture) (*resumeCapture, error) {
	if len(capt.frames) < 2 {
		return nil, fmt.Errorf("a run has %d events: too few to resume in the middle", len(capt.frames))
	}
	rc := &resumeCapture{after: int64(len(capt.frames)/2 - 1)}
	c := newClient(1)
	defer c.CloseIdleConnections()
	for range resumeRuns {
		id, err := createRun(ctx, c, gw)
		if err != nil {
			return nil, fmt.Errorf("create a run to resume: %w", err)
		}
		rc.runs = append(rc.runs, id)
	}
	frames, err := fetchResume(ctx, c, gw, rc.runs[0], rc.after)
	if err != nil {
		return nil, fmt.Errorf("resume run %s after event %d: %w", rc.runs[0], rc.after, err)
	}
	if want := len(capt.frames) - int(rc.after) - 1; len(frames) != want {
		return nil, fmt.Errorf("resume after event %d of a %d-event run gave %d frames, want %d",
			rc.after, len(capt.frames), len(frames), want)
	}
	rc.frames = frames
	return rc, nil
}

// createRun does one blocking run and returns its id.
func createRun(ctx context.Context, c *http.Client, t *target) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := post(ctx, c, t, blockingForm)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	var run struct {
		RunID  string `json:"run_id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &run); err != nil || run.RunID == "" || run.Status != "COMPLETED" {
		return "", fmt.Errorf("not a COMPLETED run (%v): %.200s", err, body)
	}
	return run.RunID, nil
}

// getResume sends the resume request: GET .../stream with Last-Event-ID.
func getResume(ctx context.Context, c *http.Client, t *target, runID string, after int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.streamURL(runID), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Last-Event-ID", strconv.FormatInt(after, 10))
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	return resp, nil
}

// fetchResume returns the frames of one whole resume answer.
func fetchResume(ctx context.Context, c *http.Client, t *target, runID string, after int64) ([][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := getResume(ctx, c, t, runID, after)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	frames := splitFrames(body)
	if len(frames) == 0 {
		return nil, errors.New("empty stream")
	}
	if id, ok := frameID(frames[0]); !ok || id != after+1 {
		return nil, fmt.Errorf("first frame is not event %d: %.200q", after+1, frames[0])
	}
	if ev, _, _ := frameData(frames[len(frames)-1]); ev != "RunCompleted" {
		return nil, fmt.Errorf("stream ended with %q, not RunCompleted", ev)
	}
	return frames, nil
}

// frameID returns the id: of an SSE frame.
func frameID(frame []byte) (int64, bool) {
	for _, line := range bytes.Split(frame, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("id:")); ok {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// resumeRequest returns the request of the resume measurement: GET the
// stream of the next finished run with Last-Event-ID in its middle; ttfe is
// the time until the first replayed frame has been read whole (its closing
// blank line), latency the time until the end of the stream. The first
// frame must be the event after the cursor and the last one RunCompleted.
func resumeRequest(rc *resumeCapture) requestFunc {
	return func(ctx context.Context, c *http.Client, t *target) sample {
		ctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		runID := rc.runs[rc.next.Add(1)%uint64(len(rc.runs))]
		start := time.Now()
		resp, err := getResume(ctx, c, t, runID, rc.after)
		if err != nil {
			return sample{err: err}
		}
		defer resp.Body.Close()
		r := readerPool.Get().(*bufio.Reader)
		r.Reset(resp.Body)
		defer func() { r.Reset(nil); readerPool.Put(r) }()
		var (
			ttfe     time.Duration
			inFrame  bool // inside the first frame
			firstID  = int64(-2)
			last     []byte
			complete bool // the first frame has been read whole
		)
		for {
			line, err := r.ReadSlice('\n')
			switch {
			case !complete && (bytes.HasPrefix(line, []byte("id:")) || bytes.HasPrefix(line, []byte("event:"))):
				inFrame = true
				if v, ok := bytes.CutPrefix(line, []byte("id:")); ok {
					if n, e := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64); e == nil {
						firstID = n
					}
				}
			case !complete && inFrame && len(bytes.TrimSpace(line)) == 0 && err == nil:
				ttfe = time.Since(start)
				complete = true
			}
			if v, ok := bytes.CutPrefix(line, []byte("event:")); ok {
				last = append(last[:0], bytes.TrimSpace(v)...)
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				return sample{err: err}
			}
		}
		lat := time.Since(start)
		switch {
		case !complete:
			return sample{err: errors.New("resume answered no whole frame")}
		case firstID != rc.after+1:
			return sample{err: fmt.Errorf("resume after %d started at event %d", rc.after, firstID)}
		case string(last) != "RunCompleted":
			return sample{err: fmt.Errorf("resumed stream ended with %q, not RunCompleted", last)}
		}
		return sample{latency: lat, ttfe: ttfe}
	}
}
