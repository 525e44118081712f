// Command wsbench measures agentgate's WebSocket interface in one run on
// one machine, and prints the figures (or -json).
//
// Idle memory per connection: the growth of the gateway's Go heap and
// goroutine stacks (after GC) while -conns idle sockets (default 2,000)
// are open, divided by their number; the target is under 16 KiB each, the
// server's buffers included. The sockets are held by a child process (this
// binary re-executed with -hold), so the client's own memory is not
// counted. With -alt (default) the same is measured on a second gateway
// whose fasthttp server has ReduceMemoryUsage set, a transport setting
// agentgate does not set today: without it every hijacked connection keeps
// fasthttp's 16 KiB read buffer.
//
// Event throughput next to SSE's, against the same gateway, in alternating
// slices (-rounds) so that a change of the machine's load weighs on both:
// "live" (each client starts runs of -chunks+5 events and reads each to its
// end, over one WebSocket per client or one SSE response per run) and
// "replay" (each client reads a finished run of -replay-chunks+5 events
// again and again: WS subscribe vs GET .../stream), as events/s and the
// WS/SSE ratio.
//
//	go run ./bench/cmd/wsbench [-conns 2000] [-duration 5s] [-concurrency 16] [-json]
//
// All traffic goes to loopback listeners the tool starts itself; the
// gateway runs in this process (SQLite in a temp dir, in-memory event log).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/agentgate/agentgate"
)

type options struct {
	conns        int
	duration     time.Duration
	warmup       time.Duration
	rounds       int
	concurrency  int
	chunks       int
	replayChunks int
	json         bool
	quiet        bool
	memprofile   string
	cpuprofile   string
	alt          bool
	// hold: run as the child that holds idle sockets.
	hold string
}

func main() {
	var o options
	flag.IntVar(&o.conns, "conns", 2000, "idle WebSocket connections held for the memory measurement (0 skips it)")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "length of each throughput measurement, per protocol (2 modes x WS and SSE)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "load before each throughput measurement, not counted (0 disables)")
	flag.IntVar(&o.rounds, "rounds", 5, "alternating WS/SSE slices each throughput measurement is split into")
	flag.IntVar(&o.concurrency, "concurrency", 16, "concurrent clients of the throughput measurements")
	flag.IntVar(&o.chunks, "chunks", 50, "RunContent events per live run (a run has chunks+5 events)")
	flag.IntVar(&o.replayChunks, "replay-chunks", 2000, "RunContent events of the finished run the replay mode reads")
	flag.BoolVar(&o.json, "json", false, "print machine-readable JSON instead of the table")
	flag.BoolVar(&o.quiet, "q", false, "no progress lines on stderr")
	flag.BoolVar(&o.alt, "alt", true, "also measure idle memory on a second gateway whose fasthttp server has ReduceMemoryUsage set (a transport setting agentgate does not set today)")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the throughput measurements (clients and gateway together) to this file")
	flag.StringVar(&o.memprofile, "memprofile", "", "write a heap profile taken while the idle sockets are open to this file")
	flag.StringVar(&o.hold, "hold", "", "internal: hold -conns idle sockets to this ws:// URL (the child process)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "wsbench: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if o.hold != "" {
		if err := holdSockets(o.hold, o.conns); err != nil {
			fmt.Fprintln(os.Stderr, "wsbench (holder):", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "wsbench:", err)
		os.Exit(1)
	}
}

func (o options) validate() error {
	switch {
	case o.conns < 0 || o.conns > 50000:
		return errors.New("-conns must be between 0 and 50000")
	case o.duration <= 0:
		return errors.New("-duration must be positive")
	case o.rounds < 1 || o.duration/time.Duration(o.rounds) < 100*time.Millisecond:
		return errors.New("-rounds must be at least 1, with slices of -duration/-rounds of at least 100ms")
	case o.warmup < 0:
		return errors.New("-warmup must not be negative")
	case o.concurrency < 1 || o.concurrency > 1024:
		return errors.New("-concurrency must be between 1 and 1024")
	case o.chunks < 1 || o.replayChunks < 1 || o.replayChunks > 9000:
		return errors.New("-chunks must be positive and -replay-chunks between 1 and 9000 (the event log keeps 10,000 per run)")
	}
	return nil
}

func (o options) progress(format string, args ...any) {
	if !o.quiet {
		fmt.Fprintf(os.Stderr, "wsbench: "+format+"\n", args...)
	}
}

// report is everything measured.
type report struct {
	GoVersion   string        `json:"go_version"`
	GOMAXPROCS  int           `json:"gomaxprocs"`
	Concurrency int           `json:"concurrency"`
	Duration    time.Duration `json:"duration_ns"`
	Memory      *memReport    `json:"idle_memory,omitempty"`
	// MemoryReduced is the same on a server with fasthttp's
	// ReduceMemoryUsage (not agentgate's setting today).
	MemoryReduced *memReport `json:"idle_memory_reduce_memory_usage,omitempty"`
	Live          *pair      `json:"live"`
	Replay        *pair      `json:"replay"`
}

type memReport struct {
	Conns int `json:"conns"`
	// Go heap (live objects after GC) plus goroutine stacks, per socket.
	HeapStackPerConn float64 `json:"heap_plus_stacks_per_conn_bytes"`
	HeapPerConn      float64 `json:"heap_per_conn_bytes"`
	StacksPerConn    float64 `json:"stacks_per_conn_bytes"`
	// RSS growth of the process per socket (the OS's view; kernel socket
	// buffers are not in it).
	RSSPerConn       float64 `json:"rss_per_conn_bytes"`
	GoroutinesPerCon float64 `json:"goroutines_per_conn"`
	TargetBytes      int     `json:"target_bytes"`
	Pass             bool    `json:"pass"`
}

// pair is one mode measured over WS and over SSE.
type pair struct {
	Mode        string     `json:"mode"`
	EventsPerRn int        `json:"events_per_run"`
	WS          throughput `json:"ws"`
	SSE         throughput `json:"sse"`
	// Ratio is WS events/s ÷ SSE events/s.
	Ratio float64 `json:"ws_over_sse"`
}

type throughput struct {
	Events       int64   `json:"events"`
	Runs         int64   `json:"runs"`
	Errors       int64   `json:"errors"`
	FirstError   string  `json:"first_error,omitempty"`
	Seconds      float64 `json:"seconds"`
	EventsPerSec float64 `json:"events_per_sec"`
}

func run(ctx context.Context, o options) error {
	if err := o.validate(); err != nil {
		return err
	}
	gw, err := startGateway(ctx, o, false)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = gw.stop(sctx)
	}()
	o.progress("agentgate on %s", gw.base)
	rep := &report{GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), Concurrency: o.concurrency, Duration: o.duration}

	if o.conns > 0 {
		o.progress("holding %d idle sockets (child process)...", o.conns)
		if rep.Memory, err = measureIdle(ctx, o, gw); err != nil {
			return fmt.Errorf("idle memory: %w", err)
		}
		if o.alt {
			o.progress("again on a gateway with fasthttp's ReduceMemoryUsage...")
			alt, err := startGateway(ctx, o, true)
			if err != nil {
				return err
			}
			o.memprofile = ""
			rep.MemoryReduced, err = measureIdle(ctx, o, alt)
			sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			err = errors.Join(err, alt.stop(sctx))
			cancel()
			if err != nil {
				return fmt.Errorf("idle memory (ReduceMemoryUsage): %w", err)
			}
		}
	}

	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	o.progress("live runs: %d clients, %v each for WS and SSE...", o.concurrency, o.duration)
	rep.Live = &pair{Mode: "live", EventsPerRn: o.chunks + 5}
	rep.Live.WS, rep.Live.SSE = measurePair(ctx, o, gw,
		func(c *client) (int64, error) { return c.wsLive("bench") },
		func(c *client) (int64, error) { return c.sseLive("bench") })
	rep.Live.Ratio = ratio(rep.Live.WS, rep.Live.SSE)

	o.progress("replay of a finished run of %d events...", o.replayChunks+5)
	runID, err := gw.finishedRun(ctx)
	if err != nil {
		return fmt.Errorf("prepare the replay run: %w", err)
	}
	rep.Replay = &pair{Mode: "replay", EventsPerRn: o.replayChunks + 5}
	rep.Replay.WS, rep.Replay.SSE = measurePair(ctx, o, gw,
		func(c *client) (int64, error) { return c.wsReplay(runID) },
		func(c *client) (int64, error) { return c.sseReplay("replay", runID) })
	rep.Replay.Ratio = ratio(rep.Replay.WS, rep.Replay.SSE)

	if o.json {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.writeTable(os.Stdout)
	return nil
}

func ratio(a, b throughput) float64 {
	if b.EventsPerSec == 0 {
		return 0
	}
	return a.EventsPerSec / b.EventsPerSec
}

// Gateway ------------------------------------------------------------------

type gateway struct {
	base  string // http://127.0.0.1:PORT
	ws    string // ws://127.0.0.1:PORT/ws
	gw    *agentgate.Gateway
	dir   string
	serve chan error
}

func benchConfig(dir string, o options) string {
	return fmt.Sprintf(`name: agentgate-wsbench
addr: 127.0.0.1:0
database_url: "sqlite://%s"
log_level: error
models:
  bench:
    provider: scripted
    model: bench-1
    chunks: %d
    script:
      - reply: "%s"
  replay:
    provider: scripted
    model: replay-1
    chunks: %d
    script:
      - reply: "%s"
agents:
  - id: bench
    name: Bench
    model: bench
  - id: replay
    name: Replay
    model: replay
`, filepath.Join(dir, "bench.db"), o.chunks, words(o.chunks, "token"), o.replayChunks, words(o.replayChunks, "w"))
}

// words is n words, so the scripted model streams n chunks.
func words(n int, prefix string) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = prefix + strconv.Itoa(i)
	}
	return strings.Join(ws, " ")
}

func startGateway(ctx context.Context, o options, reduceMemory bool) (*gateway, error) {
	dir, err := os.MkdirTemp("", "wsbench-*")
	if err != nil {
		return nil, err
	}
	cfg, err := agentgate.ParseConfig([]byte(benchConfig(dir, o)))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	gw, err := agentgate.New(ctx, cfg, agentgate.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if reduceMemory {
		// fasthttp then releases a connection's 16 KiB read buffer between
		// requests, so a hijacked (WebSocket) connection does not keep it.
		gw.App().Server().ReduceMemoryUsage = true
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = gw.Shutdown(ctx)
		_ = os.RemoveAll(dir)
		return nil, err
	}
	g := &gateway{base: "http://" + ln.Addr().String(), ws: "ws://" + ln.Addr().String() + "/ws", gw: gw, dir: dir, serve: make(chan error, 1)}
	go func() { g.serve <- gw.Serve(ln) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(g.base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g, nil
			}
		}
		if time.Now().After(deadline) {
			_ = g.stop(ctx)
			return nil, fmt.Errorf("gateway not healthy: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (g *gateway) stop(ctx context.Context) error {
	err := g.gw.Shutdown(ctx)
	select {
	case <-g.serve:
	case <-time.After(5 * time.Second):
	}
	return errors.Join(err, os.RemoveAll(g.dir))
}

// finishedRun runs the replay agent to its end and returns the run id.
func (g *gateway) finishedRun(ctx context.Context) (string, error) {
	c := newClient(g)
	defer c.close()
	if err := c.dial(); err != nil {
		return "", err
	}
	if err := c.send(`{"action":"start","agent_id":"replay","message":"replay me","background":true}`); err != nil {
		return "", err
	}
	var ack struct {
		Event string `json:"event"`
		RunID string `json:"run_id"`
	}
	_, b, err := c.ws.ReadMessage()
	if err == nil {
		err = json.Unmarshal(b, &ack)
	}
	if err != nil || ack.Event != "ack" {
		return "", fmt.Errorf("start: %s %v", b, err)
	}
	if _, err := c.readRun(); err != nil {
		return "", err
	}
	return ack.RunID, nil
}

// Idle memory --------------------------------------------------------------

type memSample struct {
	heap, stacks, rss uint64
	goroutines        int
}

func sampleMem() memSample {
	for range 3 {
		runtime.GC()
	}
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heap: ms.HeapAlloc, stacks: ms.StackInuse, rss: rss(), goroutines: runtime.NumGoroutine()}
}

// rss is the resident set size from /proc/self/statm (0 elsewhere).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

func measureIdle(ctx context.Context, o options, g *gateway) (*memReport, error) {
	// Warm up: one socket through a run, so pools and lazily built state
	// exist before the baseline.
	if _, err := g.finishedRun(ctx); err != nil {
		return nil, err
	}
	time.Sleep(200 * time.Millisecond)
	before := sampleMem()

	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "-hold", g.ws, "-conns", strconv.Itoa(o.conns))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready ") {
		return nil, fmt.Errorf("holder: %q %v", line, err)
	}
	if n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "ready "))); n != o.conns {
		return nil, fmt.Errorf("holder opened %s sockets, want %d", strings.TrimSpace(line), o.conns)
	}
	time.Sleep(time.Second) // let every handler settle into its idle wait
	after := sampleMem()
	if o.memprofile != "" {
		f, err := os.Create(o.memprofile)
		if err != nil {
			return nil, err
		}
		err = pprof.Lookup("heap").WriteTo(f, 0)
		if err = errors.Join(err, f.Close()); err != nil {
			return nil, err
		}
	}
	n := float64(o.conns)
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / n }
	m := &memReport{
		Conns:            o.conns,
		HeapPerConn:      per(after.heap, before.heap),
		StacksPerConn:    per(after.stacks, before.stacks),
		RSSPerConn:       per(after.rss, before.rss),
		GoroutinesPerCon: float64(after.goroutines-before.goroutines) / n,
		TargetBytes:      16 << 10,
	}
	m.HeapStackPerConn = m.HeapPerConn + m.StacksPerConn
	m.Pass = m.HeapStackPerConn < float64(m.TargetBytes)
	return m, nil
}

// holdSockets is the child: it opens n sockets, reads each one's connected
// frame, says "ready n" on stdout and keeps them (answering pings) until
// stdin closes.
func holdSockets(wsURL string, n int) error {
	if u, err := url.Parse(wsURL); err != nil || u.Hostname() != "127.0.0.1" {
		return fmt.Errorf("refusing to hold sockets to %q: loopback only", wsURL)
	}
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	var failed atomic.Value
	sem := make(chan struct{}, 64)
	d := &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 256, WriteBufferSize: 256}
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, _, err := d.Dial(wsURL, nil)
			if err != nil {
				failed.Store(err)
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, b, err := c.ReadMessage(); err != nil || !strings.Contains(string(b), `"connected"`) {
				failed.Store(fmt.Errorf("first frame %s: %v", b, err))
				return
			}
			_ = c.SetReadDeadline(time.Time{})
			conns[i] = c
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return err
	}
	for _, c := range conns {
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil { // answers pings
					return
				}
			}
		}()
	}
	fmt.Printf("ready %d\n", n)
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		_ = c.Close()
	}
	return nil
}

// Throughput ---------------------------------------------------------------

// client is one load client: a WebSocket (opened on first use) and an HTTP
// client with its own keep-alive connection.
type client struct {
	g    *gateway
	ws   *websocket.Conn
	http *http.Client
	seq  int
}

func newClient(g *gateway) *client {
	return &client{g: g, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2, DisableCompression: true}}}
}

func (c *client) close() {
	if c.ws != nil {
		_ = c.ws.Close()
	}
	c.http.CloseIdleConnections()
}

func (c *client) dial() error {
	ws, _, err := websocket.DefaultDialer.Dial(c.g.ws, nil)
	if err != nil {
		return err
	}
	if _, _, err := ws.ReadMessage(); err != nil { // connected
		ws.Close()
		return err
	}
	c.ws = ws
	return nil
}

func (c *client) send(s string) error {
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, []byte(s))
}

// readRun reads frames until RunCompleted and counts the run events.
func (c *client) readRun() (int64, error) {
	var n int64
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return n, err
		}
		s := string(b[:min(len(b), 40)])
		switch {
		case strings.HasPrefix(s, `{"event":"ack"`):
		case strings.HasPrefix(s, `{"event":"error"`):
			return n, fmt.Errorf("error frame: %s", b)
		case strings.HasPrefix(s, `{"event":"RunCompleted"`):
			return n + 1, nil
		case strings.HasPrefix(s, `{"event":"Run`), strings.HasPrefix(s, `{"event":"Model`):
			n++
		default:
			return n, fmt.Errorf("unexpected frame %.120s", b)
		}
	}
}

func (c *client) wsLive(agent string) (int64, error) {
	if c.ws == nil {
		if err := c.dial(); err != nil {
			return 0, err
		}
	}
	c.seq++
	if err := c.send(fmt.Sprintf(`{"action":"start","id":%d,"agent_id":%q,"message":"How fast is this?"}`, c.seq, agent)); err != nil {
		return 0, err
	}
	return c.readRun()
}

func (c *client) wsReplay(runID string) (int64, error) {
	if c.ws == nil {
		if err := c.dial(); err != nil {
			return 0, err
		}
	}
	c.seq++
	if err := c.send(fmt.Sprintf(`{"action":"subscribe","id":%d,"run_id":%q}`, c.seq, runID)); err != nil {
		return 0, err
	}
	return c.readRun()
}

// readSSE reads an SSE body to its end and counts the events.
func readSSE(body io.Reader) (int64, error) {
	r := bufio.NewReaderSize(body, 64<<10)
	var n int64
	completed := false
	for {
		line, err := r.ReadSlice('\n')
		if len(line) > 7 && string(line[:7]) == "event: " {
			n++
			if strings.HasPrefix(string(line[7:]), "RunCompleted") {
				completed = true
			}
		}
		if errors.Is(err, io.EOF) {
			if !completed {
				return n, errors.New("stream ended without RunCompleted")
			}
			return n, nil
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return n, err
		}
	}
}

func (c *client) sseDo(req *http.Request) (int64, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return 0, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return readSSE(resp.Body)
}

func (c *client) sseLive(agent string) (int64, error) {
	form := url.Values{"message": {"How fast is this?"}, "stream": {"true"}}
	req, err := http.NewRequest(http.MethodPost, c.g.base+"/agents/"+agent+"/runs", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.sseDo(req)
}

func (c *client) sseReplay(agent, runID string) (int64, error) {
	req, err := http.NewRequest(http.MethodGet, c.g.base+"/agents/"+agent+"/runs/"+runID+"/stream", nil)
	if err != nil {
		return 0, err
	}
	return c.sseDo(req)
}

// measurePair measures op over WS and over SSE: after -warmup of each,
// -rounds alternating slices of -duration/-rounds each (WS first, then SSE
// first, ...), so that a change of the machine's load during the run
// weighs on both alike. Each slice runs -concurrency clients doing their op
// back to back and counts the events they read.
func measurePair(ctx context.Context, o options, g *gateway, wsOp, sseOp func(c *client) (int64, error)) (ws, sse throughput) {
	load := func(d time.Duration, op func(c *client) (int64, error)) throughput {
		var t throughput
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := time.Now()
		deadline := start.Add(d)
		var end atomic.Int64
		for range o.concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := newClient(g)
				defer c.close()
				for time.Now().Before(deadline) && ctx.Err() == nil {
					n, err := op(c)
					mu.Lock()
					if err != nil {
						t.Errors++
						if t.FirstError == "" {
							t.FirstError = err.Error()
						}
						c.close()
						c.ws = nil
					} else {
						t.Runs++
						t.Events += n
					}
					mu.Unlock()
					end.Store(int64(time.Since(start)))
				}
			}()
		}
		wg.Wait()
		t.Seconds = time.Duration(end.Load()).Seconds()
		return t
	}
	add := func(sum *throughput, t throughput) {
		sum.Events += t.Events
		sum.Runs += t.Runs
		sum.Errors += t.Errors
		sum.Seconds += t.Seconds
		if sum.FirstError == "" {
			sum.FirstError = t.FirstError
		}
	}
	if o.warmup > 0 {
		load(o.warmup, wsOp)
		load(o.warmup, sseOp)
	}
	slice := o.duration / time.Duration(o.rounds)
	for r := range o.rounds {
		runtime.GC()
		if r%2 == 0 {
			add(&ws, load(slice, wsOp))
			add(&sse, load(slice, sseOp))
		} else {
			add(&sse, load(slice, sseOp))
			add(&ws, load(slice, wsOp))
		}
	}
	for _, t := range []*throughput{&ws, &sse} {
		if t.Seconds > 0 {
			t.EventsPerSec = float64(t.Events) / t.Seconds
		}
	}
	return ws, sse
}

// Report -------------------------------------------------------------------

func (r *report) writeTable(w io.Writer) {
	fmt.Fprintf(w, "wsbench — %s, GOMAXPROCS=%d, %d clients, %v per measurement\n\n", r.GoVersion, r.GOMAXPROCS, r.Concurrency, r.Duration)
	for _, x := range []struct {
		m     *memReport
		title string
	}{{r.Memory, "as configured"}, {r.MemoryReduced, "with fasthttp ReduceMemoryUsage (a transport setting, off today)"}} {
		m := x.m
		if m == nil {
			continue
		}
		verdict := "PASS"
		if !m.Pass {
			verdict = "MISS"
		}
		fmt.Fprintf(w, "idle memory, %d open sockets, server side, per socket — %s\n", m.Conns, x.title)
		fmt.Fprintf(w, "  Go heap + stacks      %8.0f B  (%.1f KiB; target < %d KiB: %s)\n", m.HeapStackPerConn, m.HeapStackPerConn/1024, m.TargetBytes>>10, verdict)
		fmt.Fprintf(w, "    heap (live objects) %8.0f B\n", m.HeapPerConn)
		fmt.Fprintf(w, "    goroutine stacks    %8.0f B  (%.2f goroutines per socket)\n", m.StacksPerConn, m.GoroutinesPerCon)
		fmt.Fprintf(w, "  process RSS growth    %8.0f B  (%.1f KiB; kernel socket buffers not included)\n\n", m.RSSPerConn, m.RSSPerConn/1024)
	}
	fmt.Fprintf(w, "%-32s %14s %14s %9s\n", "event throughput (events/s)", "WebSocket", "SSE", "WS/SSE")
	for _, p := range []*pair{r.Live, r.Replay} {
		if p == nil {
			continue
		}
		label := fmt.Sprintf("%s (%d events/run)", p.Mode, p.EventsPerRn)
		fmt.Fprintf(w, "%-32s %14.0f %14.0f %8.2fx\n", label, p.WS.EventsPerSec, p.SSE.EventsPerSec, p.Ratio)
		fmt.Fprintf(w, "%-32s %14d %14d\n", "  runs read", p.WS.Runs, p.SSE.Runs)
		if p.WS.Errors+p.SSE.Errors > 0 {
			fmt.Fprintf(w, "%-32s %14d %14d   first: %s %s\n", "  errors", p.WS.Errors, p.SSE.Errors, p.WS.FirstError, p.SSE.FirstError)
		}
	}
}
