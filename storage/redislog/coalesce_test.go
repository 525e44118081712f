package redislog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentgate/agentgate/core"
)

// queued returns how many appends wait for the next pipeline.
func (c *coalescer) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// sent counts the appends sent on their own and the pipelines sent, and
// the appends in those; holding is closed once the first is held.
type sent struct {
	singles, pipelines, piped atomic.Int64
	holding                   chan struct{}
}

// holdFirstAppend makes the first append that l sends wait in Redis's
// stead until n more appends queue behind it, so that they all go in the
// next pipeline. beforePipeline, if set, is called as each pipeline goes.
func holdFirstAppend(t *testing.T, l *Log, n int, beforePipeline func()) *sent {
	t.Helper()
	s := &sent{holding: make(chan struct{})}
	var held atomic.Bool
	l.rdb.AddHook(hook{
		process: func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
			if cmd.Name() != "evalsha" {
				return next(ctx, cmd)
			}
			s.singles.Add(1)
			if held.CompareAndSwap(false, true) {
				close(s.holding)
				deadline := time.Now().Add(20 * time.Second)
				for l.appends.queued() < n {
					if time.Now().After(deadline) {
						t.Errorf("%d appends queued behind the first, want %d", l.appends.queued(), n)
						break
					}
					time.Sleep(time.Millisecond)
				}
			}
			return next(ctx, cmd)
		},
		pipeline: func(ctx context.Context, cmds []redis.Cmder, next redis.ProcessPipelineHook) error {
			if cmds[0].Name() != "evalsha" {
				return next(ctx, cmds)
			}
			s.pipelines.Add(1)
			s.piped.Add(int64(len(cmds)))
			if beforePipeline != nil {
				beforePipeline()
			}
			return next(ctx, cmds)
		},
	})
	return s
}

type hook struct {
	process  func(context.Context, redis.Cmder, redis.ProcessHook) error
	pipeline func(context.Context, []redis.Cmder, redis.ProcessPipelineHook) error
}

func (hook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { return h.process(ctx, cmd, next) }
}

func (h hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { return h.pipeline(ctx, cmds, next) }
}

// appendAll appends ev(i) for i < n, each from its own goroutine, and
// returns each one's index and error.
func appendAll(l *Log, n int, ev func(i int) *core.Event) ([]int64, []error) {
	idxs, errs := make([]int64, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { idxs[i], errs[i] = l.Append(context.Background(), ev(i)) })
	}
	wg.Wait()
	return idxs, errs
}

// checkStream checks that run's stream holds exactly want: the events
// with indices 0, 1, ..., in order.
func checkStream(t *testing.T, l *Log, run string, want ...string) {
	t.Helper()
	evs, err := l.Read(t.Context(), core.ReadParams{RunID: run, After: -1})
	if err != nil {
		t.Fatalf("Read %s: %v", run, err)
	}
	var got []string
	for i, ev := range evs {
		if ev.EventIndex != int64(i) {
			t.Fatalf("run %s: event %d has index %d", run, i, ev.EventIndex)
		}
		got = append(got, ev.Content)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("run %s holds %q, want %q", run, got, want)
	}
}

// The appends of many runs that arrive while one is in flight go to Redis
// as one pipeline, each getting its own index.
func TestAppendsOfManyRunsShareAPipeline(t *testing.T) {
	t.Parallel()
	l := newLog(t, Config{})
	const runs = 64
	s := holdFirstAppend(t, l, runs-1, nil)
	ids := make([]string, runs)
	for i := range ids {
		ids[i] = newRun()
	}
	for round := range 2 {
		idxs, errs := appendAll(l, runs, func(i int) *core.Event {
			return &core.Event{Event: core.EventRunContent, RunID: ids[i], Content: fmt.Sprint(ids[i], "/", round)}
		})
		for i := range runs {
			if errs[i] != nil || idxs[i] != int64(round) {
				t.Fatalf("round %d, run %d: Append = %d, %v; want %d", round, i, idxs[i], errs[i], round)
			}
		}
	}
	// Round 1: one append held, the other 63 in one pipeline. Round 2:
	// however they met, at least as few round trips as appends.
	if got := s.singles.Load() + s.pipelines.Load(); got > runs+2 {
		t.Errorf("%d round trips for %d appends", got, 2*runs)
	}
	if s.piped.Load() < runs-1 || s.pipelines.Load() < 1 {
		t.Errorf("%d pipelines held %d appends, want >= %d in one", s.pipelines.Load(), s.piped.Load(), runs-1)
	}
	for _, run := range ids {
		checkStream(t, l, run, run+"/0", run+"/1")
	}
}

// Appends of one run that queue together go in successive pipelines, in
// their order, so a replayed pipeline holds at most one of the run's
// appends.
func TestAppendsOfOneRunTakeTurns(t *testing.T) {
	t.Parallel()
	l := newLog(t, Config{AppendWindow: -1})
	run, other := newRun(), newRun()
	mustAppend(t, l, event(run, 0), 0)
	c := l.appends
	c.mu.Lock()
	c.busy = true // as if a pipeline were in flight
	c.mu.Unlock()
	var sizes []int
	l.rdb.AddHook(hook{
		process: func(ctx context.Context, cmd redis.Cmder, next redis.ProcessHook) error {
			if cmd.Name() == "evalsha" {
				sizes = append(sizes, 1)
			}
			return next(ctx, cmd)
		},
		pipeline: func(ctx context.Context, cmds []redis.Cmder, next redis.ProcessPipelineHook) error {
			if cmds[0].Name() == "evalsha" {
				sizes = append(sizes, len(cmds))
			}
			return next(ctx, cmds)
		},
	})
	res := make(chan string, 4)
	for i, r := range []string{run, run, other, run} {
		go func() {
			idx, err := l.Append(context.Background(), &core.Event{Event: core.EventRunContent, RunID: r, Content: fmt.Sprint(i)})
			res <- fmt.Sprint(i, ":", idx, err)
		}()
		for c.queued() < i+1 {
			time.Sleep(time.Millisecond)
		}
	}
	// The pretended pipeline ends: the oldest queued call leads the next.
	c.mu.Lock()
	next := c.queue[0]
	c.mu.Unlock()
	next.lead = true
	next.wake <- struct{}{}
	got := map[string]bool{}
	for range 4 {
		got[<-res] = true
	}
	for _, want := range []string{"0:1 <nil>", "1:2 <nil>", "2:0 <nil>", "3:3 <nil>"} {
		if !got[want] {
			t.Errorf("results %v lack %s", got, want)
		}
	}
	// {run, other}, then {run}, then {run}.
	if fmt.Sprint(sizes) != "[2 1 1]" {
		t.Errorf("sent %v commands per round trip, want [2 1 1]", sizes)
	}
	checkStream(t, l, run, "c0", "0", "1", "3")
}

// A script error of one run's append fails that append only; the others
// in its pipeline succeed.
func TestScriptErrorFailsOnlyItsAppend(t *testing.T) {
	t.Parallel()
	l := newLog(t, Config{})
	const runs = 16
	ids := make([]string, runs)
	for i := range ids {
		ids[i] = newRun()
	}
	const bad = 7
	// A string where the run's stream should be: the script's XREVRANGE
	// fails with WRONGTYPE.
	if err := adminClient(t).Set(t.Context(), l.streamKey(ids[bad]), "x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	// The first append, held, is ids[0]'s; the others, the bad one's
	// among them, queue behind it and go in one pipeline.
	s := holdFirstAppend(t, l, runs-1, nil)
	ev := func(i int) *core.Event {
		return &core.Event{Event: core.EventRunContent, RunID: ids[i], Content: ids[i] + "/0"}
	}
	first := make(chan error, 1)
	go func() {
		_, err := l.Append(context.Background(), ev(0))
		first <- err
	}()
	<-s.holding
	idxs, errs := appendAll(l, runs-1, func(i int) *core.Event { return ev(i + 1) })
	idxs, errs = append([]int64{0}, idxs...), append([]error{<-first}, errs...)
	if s.singles.Load() != 1 || s.pipelines.Load() != 1 || s.piped.Load() != runs-1 {
		t.Fatalf("sent %d alone and %d pipelines of %d appends, want 1 and 1 of %d",
			s.singles.Load(), s.pipelines.Load(), s.piped.Load(), runs-1)
	}
	for i := range runs {
		switch {
		case i == bad:
			if errs[i] == nil || !strings.Contains(errs[i].Error(), "WRONGTYPE") || errors.Is(errs[i], core.ErrUnavailable) {
				t.Errorf("the bad run's Append = %d, %v; want a WRONGTYPE error", idxs[i], errs[i])
			}
		case errs[i] != nil || idxs[i] != 0:
			t.Errorf("run %d: Append = %d, %v; want 0", i, idxs[i], errs[i])
		default:
			checkStream(t, l, ids[i], ids[i]+"/0")
		}
	}
}

// cutProxy forwards TCP connections to Redis; once armed, it cuts the next
// connection that writes an EVALSHA when Redis's reply comes back, so the
// appends have run in Redis but their callers never read the replies.
type cutProxy struct {
	ln    net.Listener
	armed atomic.Bool
	cuts  atomic.Int64
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c, target)
		}
	}()
	return p
}

func (p *cutProxy) serve(c net.Conn, target string) {
	defer c.Close()
	r, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer r.Close()
	var victim atomic.Bool
	go func() {
		defer r.Close()
		defer c.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if p.armed.Load() && bytes.Contains(bytes.ToLower(buf[:n]), []byte("evalsha")) {
					victim.Store(true)
				}
				if _, werr := r.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if victim.Load() && p.armed.CompareAndSwap(true, false) {
				p.cuts.Add(1)
				return // the reply is dropped, both sides closed
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return
			}
			return
		}
	}
}

// proxiedURL is the test Redis's URL through p, with query options q.
func proxiedURL(t *testing.T, p *cutProxy, q string) string {
	t.Helper()
	opts, err := redis.ParseURL(testURL())
	if err != nil {
		t.Fatal(err)
	}
	u := strings.Replace(testURL(), opts.Addr, p.ln.Addr().String(), 1)
	if strings.Contains(u, "?") {
		return u + "&" + q
	}
	return u + "?" + q
}

// A connection lost after a pipeline of appends was written fails (or,
// with go-redis's retries, replays) only that pipeline's appends: the
// others succeed, and no event is stored twice.
func TestConnectionLostMidPipeline(t *testing.T) {
	t.Parallel()
	opts, err := redis.ParseURL(testURL())
	if err != nil {
		t.Fatal(err)
	}
	for _, retries := range []bool{true, false} {
		t.Run(fmt.Sprint("retries=", retries), func(t *testing.T) {
			t.Parallel()
			p := newCutProxy(t, opts.Addr)
			q := "max_retries=3"
			if !retries {
				q = "max_retries=-1"
			}
			l := newLog(t, Config{URL: proxiedURL(t, p, q)})
			const runs = 16
			ids := make([]string, runs)
			for i := range ids {
				ids[i] = newRun()
			}
			// The held first append goes alone; the pipeline behind it is
			// cut after Redis ran it.
			var arm sync.Once
			holdFirstAppend(t, l, runs-1, func() { arm.Do(func() { p.armed.Store(true) }) })
			idxs, errs := appendAll(l, runs, func(i int) *core.Event {
				return &core.Event{Event: core.EventRunContent, RunID: ids[i], Content: ids[i] + "/0"}
			})
			if p.cuts.Load() != 1 {
				t.Fatalf("%d connections cut, want 1", p.cuts.Load())
			}
			var failed []int
			for i := range runs {
				switch {
				case errs[i] == nil && idxs[i] == 0:
				case errs[i] != nil && !retries && errors.Is(errs[i], core.ErrUnavailable):
					failed = append(failed, i)
				default:
					t.Errorf("run %d: Append = %d, %v", i, idxs[i], errs[i])
				}
			}
			if retries && len(failed) > 0 || !retries && len(failed) != runs-1 {
				t.Fatalf("%d appends failed: %v", len(failed), errs)
			}
			// The failed appends may have landed (they did, unless Redis
			// had not read them): appending again gets the next index and
			// no event is there twice.
			for i, run := range ids {
				evs, err := l.Read(t.Context(), core.ReadParams{RunID: run, After: -1})
				if err != nil && !errors.Is(err, core.ErrNotFound) {
					t.Fatal(err)
				}
				if len(evs) > 1 || errs[i] == nil && len(evs) != 1 {
					t.Fatalf("run %d holds %d events after one append (error %v)", i, len(evs), errs[i])
				}
				next := int64(len(evs))
				mustAppend(t, l, &core.Event{Event: core.EventRunContent, RunID: run, Content: run + "/1"}, next)
				if next == 1 {
					checkStream(t, l, run, run+"/0", run+"/1")
				} else {
					checkStream(t, l, run, run+"/1")
				}
			}
		})
	}
}

// Appends that queued behind a pipeline wait, once it returned, for as
// many more as it held, or the window after its start: a caller that
// appends again at once completes the next pipeline at once; without it,
// the queued ones go when the window ends.
func TestAppendWindow(t *testing.T) {
	t.Parallel()
	for _, again := range []bool{false, true} {
		t.Run(fmt.Sprint("again=", again), func(t *testing.T) {
			t.Parallel()
			window := 1500 * time.Millisecond
			if again {
				window = time.Minute // never waited for
			}
			l := newLog(t, Config{AppendWindow: window})
			const queued = 5
			s := holdFirstAppend(t, l, queued, nil)
			ids := make([]string, queued+1)
			for i := range ids {
				ids[i] = newRun()
			}
			start := time.Now()
			first := make(chan error, 1)
			go func() {
				_, err := l.Append(context.Background(), event(ids[0], 0))
				if err == nil && again {
					_, err = l.Append(context.Background(), event(ids[0], 1))
				}
				first <- err
			}()
			<-s.holding
			idxs, errs := appendAll(l, queued, func(i int) *core.Event { return event(ids[i+1], 0) })
			d := time.Since(start)
			if err := <-first; err != nil {
				t.Fatal(err)
			}
			for i := range queued {
				if errs[i] != nil || idxs[i] != 0 {
					t.Fatalf("run %d: Append = %d, %v; want 0", i+1, idxs[i], errs[i])
				}
			}
			want := queued
			if again {
				want++
				if d >= window/2 {
					t.Fatalf("the queued appends returned after %s, waiting for the window", d)
				}
			} else if d < window {
				t.Fatalf("the queued appends returned after %s, before the window ended", d)
			}
			if s.singles.Load() != 1 || s.pipelines.Load() != 1 || s.piped.Load() != int64(want) {
				t.Fatalf("sent %d alone and %d pipelines of %d appends, want 1 and 1 of %d",
					s.singles.Load(), s.pipelines.Load(), s.piped.Load(), want)
			}
			if !again {
				return
			}
			// The pipeline's callers append again at once: though none
			// queued while it was in flight, the first of them gathers the
			// others instead of going alone.
			_, errs = appendAll(l, queued+1, func(i int) *core.Event { return event(ids[i], 2) })
			for i, err := range errs {
				if err != nil {
					t.Fatalf("run %d: %v", i, err)
				}
			}
			if s.singles.Load() != 1 || s.pipelines.Load() != 2 || s.piped.Load() != int64(2*want) {
				t.Fatalf("then sent %d alone and %d pipelines of %d appends, want one more pipeline of %d",
					s.singles.Load()-1, s.pipelines.Load()-1, s.piped.Load()-int64(want), want)
			}
		})
	}
}
