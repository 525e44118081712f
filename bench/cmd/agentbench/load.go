package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/agentgate/agentgate/internal/cputime"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"sync"
	"time"
)

// requestTimeout bounds one request, so a stuck server cannot hang the tool.
const requestTimeout = 30 * time.Second

// benchMessage is the user message of every run.
const benchMessage = "How fast can you answer this benchmark message?"

// formBody is a multipart/form-data body (what agno clients send).
type formBody struct {
	contentType string
	body        []byte
}

func newForm(stream bool) formBody {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.SetBoundary("agentbench-boundary-7d1c4e")
	_ = w.WriteField("message", benchMessage)
	_ = w.WriteField("stream", fmt.Sprint(stream))
	_ = w.WriteField("background", "false")
	_ = w.Close()
	return formBody{contentType: w.FormDataContentType(), body: buf.Bytes()}
}

var (
	blockingForm  = newForm(false)
	streamingForm = newForm(true)
)

// newClient returns a keep-alive client sized so it is never the limit:
// enough idle connections per host for every worker, no compression, no
// HTTP/2, no proxy. Every target gets its own client (its own pool).
func newClient(concurrency int) *http.Client {
	conns := max(2*concurrency, 64)
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		WriteBufferSize:     16 << 10,
		ReadBufferSize:      16 << 10,
	}
	return &http.Client{Transport: tr}
}

// checkLoopback refuses any target that is not on 127.0.0.1.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Hostname() != "127.0.0.1" {
		return fmt.Errorf("target %s is not on 127.0.0.1", raw)
	}
	return nil
}

// sample is the outcome of one request.
type sample struct {
	latency time.Duration // request sent → response fully read
	ttfe    time.Duration // request sent → first "event:" line (streams only)
	err     error
}

// requestFunc performs one request against a target.
type requestFunc func(ctx context.Context, c *http.Client, t *target) sample

func post(ctx context.Context, c *http.Client, t *target, f formBody) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.runsURL(), bytes.NewReader(f.body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", f.contentType)
	req.ContentLength = int64(len(f.body))
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

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

var completed = []byte(`"status":"COMPLETED"`)

// blockingRun posts stream=false and reads the run JSON.
func blockingRun(ctx context.Context, c *http.Client, t *target) sample {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	start := time.Now()
	resp, err := post(ctx, c, t, blockingForm)
	if err != nil {
		return sample{err: err}
	}
	defer resp.Body.Close()
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return sample{err: err}
	}
	lat := time.Since(start)
	if !bytes.Contains(buf.Bytes(), completed) {
		return sample{err: fmt.Errorf("run not COMPLETED: %.200s", buf.Bytes())}
	}
	return sample{latency: lat}
}

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}

// streamingRun posts stream=true and reads the SSE stream to its end,
// timing the first "event:" line.
func streamingRun(ctx context.Context, c *http.Client, t *target) sample {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	start := time.Now()
	resp, err := post(ctx, c, t, streamingForm)
	if err != nil {
		return sample{err: err}
	}
	defer resp.Body.Close()
	r := readerPool.Get().(*bufio.Reader)
	r.Reset(resp.Body)
	defer func() { r.Reset(nil); readerPool.Put(r) }()
	var ttfe time.Duration
	var last []byte
	events := 0
	for {
		line, err := r.ReadSlice('\n')
		if bytes.HasPrefix(line, []byte("event:")) {
			if events == 0 {
				ttfe = time.Since(start)
			}
			events++
			last = append(last[:0], bytes.TrimSpace(line[len("event:"):])...)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return sample{err: err}
		}
	}
	lat := time.Since(start)
	if string(last) != "RunCompleted" {
		return sample{err: fmt.Errorf("stream ended with %q after %d events, not RunCompleted", last, events)}
	}
	return sample{latency: lat, ttfe: ttfe}
}

// result is one measurement: one target, one mode.
type result struct {
	Requests  int           `json:"requests"`
	Errors    int           `json:"errors"`
	FirstErr  string        `json:"first_error,omitempty"`
	Elapsed   time.Duration `json:"-"`
	PerSecond float64       `json:"runs_per_sec"`
	Latency   percentiles   `json:"latency_ms"`
	TTFE      *percentiles  `json:"ttfe_ms,omitempty"`
	// CPUPerOp is the CPU time the whole process (client, the target and
	// whatever else runs in it) used during the measurement over the
	// requests completed (0: not measured). Less sensitive than the rate
	// to other processes taking the machine's cores.
	CPUPerOp time.Duration `json:"-"`
	// RoundsPerSecond are the rates of every round of the measurement,
	// in order, when there were several; the other figures are those of
	// the median round (medianRound).
	RoundsPerSecond []float64 `json:"-"`
	// RoundsCPUPerOp are every round's CPUPerOp, in order, when there were
	// several; CPUPerOp is then their median (the lower middle), taken on
	// its own rather than from the median round.
	RoundsCPUPerOp []time.Duration `json:"-"`
}

// medianRound returns the round with the median rate (the lower middle of
// an even number), its figures whole (its latencies come from that same
// round), with every round's rate and the errors of all of them.
func medianRound(rs []result) *result {
	if len(rs) == 0 {
		return &result{}
	}
	idx := make([]int, len(rs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return rs[idx[a]].PerSecond < rs[idx[b]].PerSecond })
	med := rs[idx[(len(rs)-1)/2]]
	if len(rs) > 1 {
		med.RoundsPerSecond = make([]float64, len(rs))
		med.RoundsCPUPerOp = make([]time.Duration, len(rs))
		med.Errors = 0
		for i, r := range rs {
			med.RoundsPerSecond[i] = r.PerSecond
			med.RoundsCPUPerOp[i] = r.CPUPerOp
			med.Errors += r.Errors
			if med.FirstErr == "" {
				med.FirstErr = r.FirstErr
			}
		}
		cpus := slices.Clone(med.RoundsCPUPerOp)
		slices.Sort(cpus)
		med.CPUPerOp = cpus[(len(cpus)-1)/2]
	}
	return &med
}

type percentiles struct {
	P50 time.Duration `json:"-"`
	P90 time.Duration `json:"-"`
	P99 time.Duration `json:"-"`
	Max time.Duration `json:"-"`
}

func percentilesOf(d []time.Duration) percentiles {
	if len(d) == 0 {
		return percentiles{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	at := func(q float64) time.Duration {
		i := int(q*float64(len(d))+0.5) - 1 // nearest rank
		return d[min(max(i, 0), len(d)-1)]
	}
	return percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: d[len(d)-1]}
}

// load runs fn from concurrency workers until duration has passed: a worker
// starts no request after the deadline, and the rate is the completed
// requests over the time until the last one ended.
func load(ctx context.Context, c *http.Client, t *target, fn requestFunc, concurrency int, duration time.Duration, streaming bool) result {
	return runWorkers(ctx, concurrency, duration, streaming, func(ctx context.Context, _ int) sample {
		return fn(ctx, c, t)
	})
}

// runWorkers runs op from concurrency workers (op gets the worker's number,
// 0 to concurrency-1) until duration has passed, with load's rules. With
// withTTFE, each sample's ttfe is collected too.
func runWorkers(ctx context.Context, concurrency int, duration time.Duration, withTTFE bool, op func(ctx context.Context, worker int) sample) result {
	type worker struct {
		lat, ttfe []time.Duration
		n, errs   int
		firstErr  error
	}
	ws := make([]worker, concurrency)
	cpu0, cpuOK := cputime.Process()
	start := time.Now()
	deadline := start.Add(duration)
	var wg sync.WaitGroup
	for i := range ws {
		wg.Add(1)
		go func(i int, w *worker) {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				s := op(ctx, i)
				if s.err != nil {
					w.errs++
					if w.firstErr == nil {
						w.firstErr = s.err
					}
					continue
				}
				w.n++
				w.lat = append(w.lat, s.latency)
				if withTTFE {
					w.ttfe = append(w.ttfe, s.ttfe)
				}
			}
		}(i, &ws[i])
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, cpuOK1 := cputime.Process()
	var res result
	var lat, ttfe []time.Duration
	for i := range ws {
		res.Requests += ws[i].n
		res.Errors += ws[i].errs
		if ws[i].firstErr != nil && res.FirstErr == "" {
			res.FirstErr = ws[i].firstErr.Error()
		}
		lat = append(lat, ws[i].lat...)
		ttfe = append(ttfe, ws[i].ttfe...)
	}
	res.Elapsed = elapsed
	res.PerSecond = float64(res.Requests) / elapsed.Seconds()
	if cpuOK && cpuOK1 && res.Requests > 0 {
		res.CPUPerOp = (cpu1 - cpu0) / time.Duration(res.Requests)
	}
	res.Latency = percentilesOf(lat)
	if withTTFE {
		p := percentilesOf(ttfe)
		res.TTFE = &p
	}
	return res
}

// timed runs one operation of a component measurement as a sample.
func timed(f func() error) sample {
	start := time.Now()
	if err := f(); err != nil {
		return sample{err: err}
	}
	return sample{latency: time.Since(start)}
}

// captureRun records one real blocking response and one real stream.
func captureRun(ctx context.Context, c *http.Client, t *target) (*capture, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := post(ctx, c, t, blockingForm)
	if err != nil {
		return nil, fmt.Errorf("blocking run: %w", err)
	}
	runJSON, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("blocking run: %w", err)
	}
	if !bytes.Contains(runJSON, completed) {
		return nil, fmt.Errorf("blocking run not COMPLETED: %.300s", runJSON)
	}
	resp, err = post(ctx, c, t, streamingForm)
	if err != nil {
		return nil, fmt.Errorf("streaming run: %w", err)
	}
	stream, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("streaming run: %w", err)
	}
	frames := splitFrames(stream)
	if len(frames) == 0 {
		return nil, errors.New("streaming run: empty stream")
	}
	if ev, _, _ := frameData(frames[len(frames)-1]); ev != "RunCompleted" {
		return nil, fmt.Errorf("streaming run ended with %q, not RunCompleted", ev)
	}
	return &capture{runJSON: runJSON, frames: frames}, nil
}
