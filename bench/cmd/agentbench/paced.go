package main

// The paced profile (-paced): many concurrent long streams whose model
// emits tokens at a steady rate, like a real model (20 tokens/s for 10 s by
// default), instead of the closed loop of instant replies. It measures what
// a chat user feels: per-token delivery latency, from the moment the model
// wrote the token to the moment the client read it, at p50/p99; and what
// the streams cost the machine: CPU per 1,000 streams and RSS per stream.
//
// The model is an OpenAI-compatible server in this process (the gateway
// talks to it through its openai provider, as it would to a real one); each
// token carries the time it was written ("[t<unix nanos>] "), so a client
// that reads it knows its delivery latency. The baseline is the same
// clients reading the model server directly: the floor of the load tool and
// the model server on this machine, measured in the same run.
//
// On postgres-redis two replicas share the database and the event log; the
// streams are started on replica A and each has a follower on replica B
// (GET .../runs/{run_id}/stream), which measures delivery across replicas.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/agentgate/agentgate/internal/cputime"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// pacedOptions are the paced profile's flags.
type pacedOptions struct {
	streams int           // concurrent streams (and, on postgres-redis, as many followers)
	rate    float64       // tokens per second per stream
	length  time.Duration // how long each stream's model emits
	ramp    time.Duration // the streams start spread over this long
}

// tokens is how many tokens one stream's model emits.
func (p pacedOptions) tokens() int { return max(1, int(p.rate*p.length.Seconds()+0.5)) }

func (p pacedOptions) validate() error {
	switch {
	case p.streams < 1 || p.streams > 5000:
		return errors.New("-streams must be between 1 and 5000")
	case p.rate <= 0 || p.rate > 1000:
		return errors.New("-rate must be in (0, 1000] tokens/s")
	case p.length <= 0 || p.length > 10*time.Minute:
		return errors.New("-stream-length must be in (0, 10m]")
	case p.ramp < 0:
		return errors.New("-ramp must not be negative")
	}
	return nil
}

// The paced profile's targets (issue #20): delivery p99 at 2,000 streams of
// 20 tokens/s per replica.
const (
	pacedTargetStreams     = 2000
	pacedTargetEmbeddedP99 = 50 * time.Millisecond
	pacedTargetReplicasP99 = 100 * time.Millisecond
)

// pacedModel is the OpenAI-compatible chat completions server: every
// streamed request gets tokens() tokens, one every 1/rate, each stamped
// with the time it is written.
type pacedModel struct {
	opts pacedOptions
	srv  *http.Server
	url  string // http://127.0.0.1:PORT/v1
}

func startPacedModel(opts pacedOptions) (*pacedModel, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &pacedModel{opts: opts, url: "http://" + ln.Addr().String() + "/v1"}
	m.srv = &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = m.srv.Serve(ln) }()
	return m, nil
}

func (m *pacedModel) close() { _ = m.srv.Close() }

// chunk is one streamed chat.completion.chunk (the fields the OpenAI SDK
// reads).
type chunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []chunkChoice `json:"choices"`
	Usage   *chunkUsage   `json:"usage,omitempty"`
}

type chunkChoice struct {
	Index        int          `json:"index"`
	Delta        chunkDelta   `json:"delta"`
	FinishReason *string      `json:"finish_reason"`
	Logprobs     *interface{} `json:"logprobs"`
}

type chunkDelta struct {
	Role    string `json:"role,omitempty"`
	Content string `json:"content"`
}

type chunkUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func (m *pacedModel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		http.Error(w, `{"error":{"message":"only POST /v1/chat/completions"}}`, http.StatusNotFound)
		return
	}
	var req struct {
		Stream bool `json:"stream"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || !req.Stream {
		http.Error(w, `{"error":{"message":"the paced model only streams"}}`, http.StatusBadRequest)
		return
	}
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	n := m.opts.tokens()
	interval := time.Duration(float64(time.Second) / m.opts.rate)
	write := func(c chunk) bool {
		b, _ := json.Marshal(c)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return true
	}
	c := chunk{ID: "chatcmpl-paced", Object: "chat.completion.chunk", Created: time.Now().Unix(), Model: "paced-1",
		Choices: []chunkChoice{{Delta: chunkDelta{Role: "assistant"}}}}
	if !write(c) {
		return
	}
	start := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for i := range n {
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
		c.Choices[0].Delta = chunkDelta{Content: stamp(time.Now())}
		if !write(c) {
			return
		}
		// Paced against the start, so a late tick does not push every
		// later token back.
		t.Reset(time.Until(start.Add(time.Duration(i+1) * interval)))
	}
	stop := "stop"
	c.Choices[0] = chunkChoice{Delta: chunkDelta{}, FinishReason: &stop}
	c.Usage = &chunkUsage{PromptTokens: 12, CompletionTokens: n, TotalTokens: 12 + n}
	if write(c) {
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
		if fl != nil {
			fl.Flush()
		}
	}
}

// stamp is a token that says when it was written.
func stamp(t time.Time) string { return "[t" + strconv.FormatInt(t.UnixNano(), 10) + "] " }

// stampsIn calls fn with the write time of every token stamped in b (a
// frame may carry several tokens, and JSON leaves the stamps as they are).
func stampsIn(b []byte, fn func(time.Time)) {
	for {
		i := bytes.Index(b, []byte("[t"))
		if i < 0 {
			return
		}
		b = b[i+2:]
		j := bytes.IndexByte(b, ']')
		if j < 0 {
			return
		}
		if ns, err := strconv.ParseInt(string(b[:j]), 10, 64); err == nil {
			fn(time.Unix(0, ns))
		}
		b = b[j+1:]
	}
}

// pacedConfig is the gateway's config: the paced model through the openai
// provider, and one agent without tools.
func pacedConfig(b backends, modelURL string) []byte {
	extra := b.yaml()
	return []byte(fmt.Sprintf(`name: agentgate-paced
addr: 127.0.0.1:0
database_url: %q
%slog_level: error
models:
  paced:
    provider: openai
    model: paced-1
    base_url: %s
    api_key: paced-key
    max_retries: 0
    timeout: 10m
agents:
  - id: %s
    name: Paced
    description: Load-test agent (a paced OpenAI-compatible model in the load tool, no tools).
    model: paced
    instructions: Answer.
`, b.databaseURL, extra, modelURL, benchAgentID))
}

// latencies collects delivery latencies from many streams.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d...)
	l.mu.Unlock()
}

// pacedResult is one phase of the paced profile (the baseline, the streams,
// or their followers).
type pacedResult struct {
	Target   string  `json:"target"`
	Streams  int     `json:"streams"`
	Complete int     `json:"complete"` // streams that got every token and their end
	Errors   int     `json:"errors"`
	Tokens   int     `json:"tokens"` // tokens delivered (and measured)
	P50      float64 `json:"delivery_p50_ms"`
	P99      float64 `json:"delivery_p99_ms"`
	Max      float64 `json:"delivery_max_ms"`
	// CPUPer1000 is the process's CPU (cores) per 1,000 streams while the
	// streams ran: the load tool, the model server and the gateway
	// together; the baseline's figure is the first two alone.
	CPUPer1000 float64 `json:"cpu_cores_per_1000_streams"`
	// CPUPerToken is the same CPU per token delivered to the streams'
	// readers (µs): work per unit, which unlike CPUPer1000 does not fall
	// when a starved process stretches the phase.
	CPUPerToken float64 `json:"cpu_us_per_token"`
	// RSSPerStream is the process's RSS growth from before the streams to
	// their middle, divided by the streams (KiB).
	RSSPerStream float64 `json:"rss_kib_per_stream"`
	FirstError   string  `json:"first_error,omitempty"`
	lat          []time.Duration
	followers    *pacedResult
}

func (r *pacedResult) finish(l []time.Duration) {
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	r.lat = l
	r.Tokens = len(l)
	if len(l) == 0 {
		return
	}
	at := func(q float64) float64 { return ms(l[min(len(l)-1, int(q*float64(len(l))))]) }
	r.P50, r.P99, r.Max = at(0.50), at(0.99), ms(l[len(l)-1])
}

// pacedPhase runs opts.streams concurrent streams of one kind: start opens
// stream i (and returns its body), and each stream is read to its end. With
// follow set, every stream also gets a follower (follow opens it once the
// stream's run id is known), measured separately.
func pacedPhase(ctx context.Context, name string, opts pacedOptions, start func(ctx context.Context, i int) (io.ReadCloser, error),
	follow func(ctx context.Context, runID string) (io.ReadCloser, error)) *pacedResult {
	res := &pacedResult{Target: name, Streams: opts.streams}
	var fres *pacedResult
	if follow != nil {
		fres = &pacedResult{Target: name + " followers", Streams: opts.streams}
		res.followers = fres
	}
	var lat, flat latencies
	var complete, fcomplete, errs, ferrs atomic.Int64
	var errOnce, ferrOnce sync.Once
	fail := func(r *pacedResult, once *sync.Once, n *atomic.Int64, err error) {
		n.Add(1)
		once.Do(func() { r.FirstError = err.Error() })
	}
	want := opts.tokens()
	runtime.GC()
	rssBefore := rssKiB()
	cpuBefore, _ := cputime.Process()
	wallStart := time.Now()
	var mid atomic.Int64 // RSS in the middle of the streams
	midTimer := time.AfterFunc(opts.ramp+opts.length/2, func() { mid.Store(rssKiB()) })
	var wg sync.WaitGroup
	for i := range opts.streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if opts.ramp > 0 {
				time.Sleep(time.Duration(int64(opts.ramp) * int64(i) / int64(opts.streams)))
			}
			body, err := start(ctx, i)
			if err != nil {
				fail(res, &errOnce, &errs, err)
				return
			}
			var fwg sync.WaitGroup
			onRun := func(runID string) {
				if follow == nil {
					return
				}
				fwg.Add(1)
				go func() {
					defer fwg.Done()
					fb, err := follow(ctx, runID)
					if err != nil {
						fail(fres, &ferrOnce, &ferrs, err)
						return
					}
					attached := time.Now()
					got, n, err := readPaced(fb, nil, attached)
					flat.add(got)
					switch {
					case err != nil:
						fail(fres, &ferrOnce, &ferrs, err)
					case n != want:
						fail(fres, &ferrOnce, &ferrs, fmt.Errorf("follower of run %s read %d of %d tokens", runID, n, want))
					default:
						fcomplete.Add(1)
					}
				}()
			}
			got, n, err := readPaced(body, onRun, time.Time{})
			lat.add(got)
			switch {
			case err != nil:
				fail(res, &errOnce, &errs, err)
			case n != want:
				fail(res, &errOnce, &errs, fmt.Errorf("stream %d read %d of %d tokens", i, n, want))
			default:
				complete.Add(1)
			}
			fwg.Wait()
		}()
	}
	wg.Wait()
	midTimer.Stop()
	wall := time.Since(wallStart)
	cpuAfter, _ := cputime.Process()
	cpu := cpuAfter - cpuBefore
	cores := cpu.Seconds() / wall.Seconds()
	rssMid := mid.Load()
	if rssMid == 0 {
		rssMid = rssKiB()
	}
	for _, r := range []*pacedResult{res, fres} {
		if r == nil {
			continue
		}
		r.CPUPer1000 = cores * 1000 / float64(opts.streams)
		r.RSSPerStream = float64(rssMid-rssBefore) / float64(opts.streams)
	}
	res.Complete, res.Errors = int(complete.Load()), int(errs.Load())
	res.finish(lat.d)
	if fres != nil {
		fres.Complete, fres.Errors = int(fcomplete.Load()), int(ferrs.Load())
		fres.finish(flat.d)
	}
	if res.Tokens > 0 {
		res.CPUPerToken = float64(cpu.Microseconds()) / float64(res.Tokens)
		if fres != nil {
			fres.CPUPerToken = res.CPUPerToken
		}
	}
	return res
}

// readPaced reads one SSE stream (the gateway's or the model's) to its end:
// the delivery latency of every stamped token (written after since, when
// given: a follower does not count what was written before it attached),
// how many stamped tokens it read in all, and an error unless the stream
// ended as a finished run (RunCompleted) or a finished model stream
// ([DONE]). onRun, when set, is called with the run id of the first event.
func readPaced(body io.ReadCloser, onRun func(string), since time.Time) ([]time.Duration, int, error) {
	defer body.Close()
	br := bufio.NewReaderSize(body, 32<<10)
	lat := make([]time.Duration, 0, 256)
	n := 0
	var event string
	ended := false
	for {
		line, err := br.ReadSlice('\n')
		now := time.Now()
		if len(line) > 0 {
			line = bytes.TrimRight(line, "\r\n")
			switch {
			case bytes.HasPrefix(line, []byte("event:")):
				event = string(bytes.TrimSpace(line[len("event:"):]))
			case bytes.HasPrefix(line, []byte("data:")):
				data := bytes.TrimSpace(line[len("data:"):])
				if bytes.Equal(data, []byte("[DONE]")) {
					ended = true
					break
				}
				if onRun != nil {
					var ev struct {
						RunID string `json:"run_id"`
					}
					if json.Unmarshal(data, &ev) == nil && ev.RunID != "" {
						onRun(ev.RunID)
						onRun = nil
					}
				}
				if event == "RunCompleted" {
					ended = true
					break // its content repeats the whole answer
				}
				if event == "RunError" {
					return lat, n, fmt.Errorf("RunError: %.300s", data)
				}
				if event == "" || event == "RunContent" {
					stampsIn(data, func(t time.Time) {
						n++
						if since.IsZero() || !t.Before(since) {
							lat = append(lat, now.Sub(t))
						}
					})
				}
			case len(line) == 0:
				event = ""
			}
		}
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return lat, n, errors.New("an SSE line over 32 KiB")
			}
			if errors.Is(err, io.EOF) && ended {
				return lat, n, nil
			}
			if errors.Is(err, io.EOF) {
				return lat, n, errors.New("the stream ended before the run finished")
			}
			return lat, n, err
		}
	}
}

// rssKiB is the process's resident set (Linux /proc; 0 elsewhere).
func rssKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return 0
}

// pacedReport is the paced profile's whole outcome.
type pacedReport struct {
	Profile  string         `json:"profile"`
	Streams  int            `json:"streams"`
	Rate     float64        `json:"tokens_per_second"`
	Length   string         `json:"stream_length"`
	Baseline *pacedResult   `json:"baseline"`
	Results  []*pacedResult `json:"results"`
	Target   string         `json:"target"`
	Met      bool           `json:"target_met"`
}

// runPaced does the paced profile on o.profile and prints its report.
func runPaced(ctx context.Context, o options, stdout, stderr io.Writer) error {
	if err := o.paced.validate(); err != nil {
		return err
	}
	if _, ok := profiles[o.profile]; !ok {
		return unknownProfile(o.profile)
	}
	raiseFileLimit()
	prog := progress{w: stderr, quiet: o.quiet}
	popts := profileOptions{logger: slog.New(slog.DiscardHandler), noTracing: !o.tracing}
	model, err := startPacedModel(o.paced)
	if err != nil {
		return err
	}
	defer model.close()
	client := newClient(2 * o.paced.streams)
	defer client.CloseIdleConnections()
	rep := &pacedReport{Profile: o.profile, Streams: o.paced.streams, Rate: o.paced.rate, Length: o.paced.length.String()}

	// The baseline: the same clients straight from the model server.
	prog.printf("paced: baseline, %d streams from the model server directly", o.paced.streams)
	rep.Baseline = pacedPhase(ctx, "baseline (model server direct)", o.paced, func(ctx context.Context, _ int) (io.ReadCloser, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, model.url+"/chat/completions",
			strings.NewReader(`{"model":"paced-1","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Content-Type", "application/json")
		return openStream(client, req)
	}, nil)

	var gws []*target
	defer func() {
		for _, g := range gws {
			_ = g.stop(context.Background())
		}
	}()
	var b backends
	var cleanup func() error
	switch o.profile {
	case "embedded":
		dir, err := os.MkdirTemp("", "agentbench-paced-*")
		if err != nil {
			return err
		}
		cleanup = func() error { return os.RemoveAll(dir) }
		b = backends{databaseURL: "sqlite://" + filepath.Join(dir, "paced.db"), noTracing: !o.tracing}
	case "postgres-redis":
		env, err := newPGRedis()
		if err != nil {
			return err
		}
		if err := env.reachable(ctx); err != nil {
			return err
		}
		cleanup = env.cleanup
		b = backends{databaseURL: env.dbURL, redisURL: env.redisURL, prefix: env.prefix, noTracing: !o.tracing}
	}
	replicas := 1
	if o.profile == "postgres-redis" {
		replicas = 2
	}
	for range replicas {
		g, err := serveConfig(ctx, popts, pacedConfig(b, model.url), "paced", func() error { return nil })
		if err != nil {
			for _, g := range gws {
				_ = g.stop(context.Background())
			}
			gws = nil
			return errors.Join(err, cleanup())
		}
		gws = append(gws, g)
	}
	start := func(ctx context.Context, _ int) (io.ReadCloser, error) {
		form := url.Values{"message": {"Tell me a long story."}, "stream": {"true"}}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gws[0].baseURL+"/agents/"+benchAgentID+"/runs",
			strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return openStream(client, req)
	}
	var follow func(ctx context.Context, runID string) (io.ReadCloser, error)
	if replicas > 1 {
		follow = func(ctx context.Context, runID string) (io.ReadCloser, error) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet,
				gws[1].baseURL+"/agents/"+benchAgentID+"/runs/"+runID+"/stream", nil)
			req.Header.Set("Accept", "text/event-stream")
			return openStream(client, req)
		}
	}
	name := "agentgate " + o.profile
	if replicas > 1 {
		name += " (replica A)"
	}
	prog.printf("paced: %s, %d streams of %d tokens at %g/s", name, o.paced.streams, o.paced.tokens(), o.paced.rate)
	stopProfiles, err := startProfiles(o)
	if err != nil {
		return errors.Join(err, cleanup())
	}
	res := pacedPhase(ctx, name, o.paced, start, follow)
	err = stopProfiles()
	rep.Results = append(rep.Results, res)
	if res.followers != nil {
		res.followers.Target = "agentgate " + o.profile + " followers (replica B)"
		rep.Results = append(rep.Results, res.followers)
	}
	for _, g := range gws {
		err = errors.Join(err, g.stop(context.Background()))
	}
	gws = nil
	err = errors.Join(err, cleanup())

	limit := pacedTargetEmbeddedP99
	if replicas > 1 {
		limit = pacedTargetReplicasP99
	}
	last := rep.Results[len(rep.Results)-1]
	rep.Target = fmt.Sprintf("%d streams at 20 tokens/s, delivery p99 <= %s", pacedTargetStreams, limit)
	rep.Met = o.paced.streams >= pacedTargetStreams && o.paced.rate >= 20 && last.Complete == last.Streams &&
		last.P99 <= ms(limit) && res.Complete == res.Streams && res.P99 <= ms(limit)
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return errors.Join(enc.Encode(rep), err)
	}
	rep.writeTable(stdout)
	return err
}

// openStream sends req and returns the body of a 200 answer.
func openStream(c *http.Client, req *http.Request) (io.ReadCloser, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("%s %s: status %d: %s", req.Method, req.URL.Path, resp.StatusCode, bytes.TrimSpace(b))
	}
	return resp.Body, nil
}

func (rep *pacedReport) writeTable(w io.Writer) {
	fmt.Fprintf(w, "agentbench paced: %s, %d concurrent streams, %g tokens/s for %s each (%d tokens)\n",
		rep.Profile, rep.Streams, rep.Rate, rep.Length, max(1, int(rep.Rate*mustDuration(rep.Length).Seconds()+0.5)))
	fmt.Fprintf(w, "%-48s %9s %8s %10s %10s %10s %14s %10s %12s\n", "target", "complete", "tokens", "p50", "p99", "max", "cpu/1k streams", "cpu/token", "RSS/stream")
	rows := append([]*pacedResult{rep.Baseline}, rep.Results...)
	for _, r := range rows {
		fmt.Fprintf(w, "%-48s %4d/%-4d %8d %8.2fms %8.2fms %8.2fms %9.2f cores %8.1fµs %9.1f KiB\n", r.Target, r.Complete, r.Streams,
			r.Tokens, r.P50, r.P99, r.Max, r.CPUPer1000, r.CPUPerToken, r.RSSPerStream)
		if r.FirstError != "" {
			fmt.Fprintf(w, "  %d errors, the first: %s\n", r.Errors, r.FirstError)
		}
	}
	for _, r := range rep.Results {
		fmt.Fprintf(w, "%s vs baseline: delivery p50 %.2fx, p99 %.2fx; CPU %.2fx, per token %.2fx (+%.1fµs)\n", r.Target,
			ratio(r.P50, rep.Baseline.P50), ratio(r.P99, rep.Baseline.P99), ratio(r.CPUPer1000, rep.Baseline.CPUPer1000),
			ratio(r.CPUPerToken, rep.Baseline.CPUPerToken), r.CPUPerToken-rep.Baseline.CPUPerToken)
	}
	fmt.Fprintf(w, "target: %s: %s\n", rep.Target, passMiss(rep.Met))
}

func mustDuration(s string) time.Duration {
	d, _ := time.ParseDuration(s)
	return d
}
