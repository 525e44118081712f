package redislog

// The append coalescer: a group commit of the appends of all runs.

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Bounds of one coalesced pipeline: at most maxPipelineCalls appends, and
// no more once their arguments reach maxPipelineBytes (a single larger
// append still goes, alone).
const (
	maxPipelineCalls = 256
	maxPipelineBytes = 256 << 10
)

// appendCall is one append (one run of appendScript) waiting for or in a
// pipeline.
type appendCall struct {
	key   string
	args  []any
	bytes int // the size of args' payloads, for maxPipelineBytes

	// Set by the pipeline that ran the call, before wake.
	first int64
	err   error
	// lead is set instead when the call is woken to run the next pipeline
	// (holding itself and the calls queued behind it).
	lead bool
	wake chan struct{} // buffered, 1
}

// coalescer sends the appends of every run in this Log to Redis as group
// commits. A caller that finds no pipeline in flight, the last one having
// held its append alone, sends it at once, on its own goroutine (a lone
// writer never waits). Appends that arrive while one is in flight queue;
// when it returns, the oldest of them is woken to lead the next pipeline,
// which takes all that queued (up to the bounds): one write and one read
// for all of them. Before taking them the leader waits (gather) for as
// many arrivals as the pipeline before held, its callers if they append
// again at once, but no longer than the window after the last pipeline's
// start (or half the window after its return); so does a caller that
// finds no pipeline in flight after one that held others. Callers that
// come back at once so never wait for a timer, and callers that come back
// later (streams emitting tokens at their pace) meet in pipelines about
// the window apart instead of two or three per round trip. Each caller gets its own command's result, so one
// run's script error fails only that run's append.
//
// A pipeline holds at most one append of a run: go-redis replays a whole
// pipeline whose connection failed after it was written, and the script's
// token check (see appendScript) recognises a replayed append only while
// it is the run's last one. Another append of the same run waits for the
// next pipeline, keeping its order behind the first.
type coalescer struct {
	rdb *redis.Client
	// window bounds gather's wait, from the last pipeline's start
	// (Config.AppendWindow); <= 0: no wait.
	window time.Duration
	// timer bounds gather's wait; only the leader uses it.
	timer *time.Timer

	// mu guards the fields below.
	mu sync.Mutex
	// busy is set while some caller is sending a pipeline (or about to:
	// a woken leader).
	busy bool
	// queue holds the calls waiting for the next pipeline, oldest first.
	queue []*appendCall
	// last is when the last pipeline started, and prev how many appends
	// it held.
	last time.Time
	prev int
	// gathering is the leader of the next pipeline while it waits (in
	// gather) for the queue to reach expect.
	gathering *appendCall
	expect    int64
	// arrivals counts the calls queued so far, returned is what it was
	// when the last pipeline returned.
	arrivals, returned int64
	returnedAt         time.Time
	// seen holds the keys of the pipeline being formed.
	seen map[string]struct{}
}

func newCoalescer(rdb *redis.Client, window time.Duration) *coalescer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &coalescer{rdb: rdb, window: window, seen: make(map[string]struct{}), timer: t}
}

// run runs appendScript on key with args, coalesced with the concurrent
// calls of other runs, and returns its reply (the index of the first event
// appended). ctx's values and deadline carry into the pipeline that holds
// the call, not its cancellation: like any command written to a shared
// connection, a call is not cut short by its caller's context once queued
// (it ends within go-redis's timeouts).
func (c *coalescer) run(ctx context.Context, key string, args []any) (int64, error) {
	call := &appendCall{key: key, args: args, wake: make(chan struct{}, 1)}
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			call.bytes += len(v)
		case string:
			call.bytes += len(v)
		default:
			call.bytes += 8
		}
	}
	c.mu.Lock()
	if !c.busy {
		c.busy = true
		if c.window > 0 && c.prev > 1 {
			// The pipeline before held others, who may append again
			// soon: lead the next one, gathering them first.
			c.queue = append(c.queue, call)
			c.arrivals++
			c.mu.Unlock()
			c.gather(call)
			c.lead(ctx, call)
			return call.first, call.err
		}
		c.last, c.prev = time.Now(), 1
		c.mu.Unlock()
		c.send(ctx, []*appendCall{call})
		return call.first, call.err
	}
	c.queue = append(c.queue, call)
	c.arrivals++
	if g := c.gathering; g != nil && c.arrivals >= c.expect {
		c.gathering = nil
		select {
		case g.wake <- struct{}{}:
		default:
		}
	}
	c.mu.Unlock()
	<-call.wake
	if call.lead {
		c.gather(call)
		c.lead(ctx, call)
	}
	return call.first, call.err
}

// gather waits, before the leader takes the next pipeline, for the appends
// expected soon: as many arrivals since the pipeline before returned as it
// held (its callers, if they append again as soon as they have their
// reply). It waits no longer than the window from the last pipeline's
// start: with callers that come back later, pipelines start the window
// apart and each takes what came meanwhile.
func (c *coalescer) gather(leader *appendCall) {
	c.mu.Lock()
	expect := c.returned + int64(c.prev)
	wait := time.Duration(0)
	if c.window > 0 {
		// From the last pipeline's start, but at least half the window
		// after its return, for the callers to come back when the round
		// trip took longer than the window.
		wait = max(time.Until(c.last.Add(c.window)), time.Until(c.returnedAt.Add(c.window/2)))
	}
	if wait <= 0 || c.arrivals >= expect || len(c.queue) >= maxPipelineCalls {
		c.mu.Unlock()
		return
	}
	c.gathering, c.expect = leader, expect
	c.mu.Unlock()
	c.timer.Reset(wait)
	select {
	case <-leader.wake:
	case <-c.timer.C:
	}
	c.timer.Stop()
	c.mu.Lock()
	c.gathering = nil
	c.mu.Unlock()
}

// lead sends the next pipeline, call (the oldest queued) first.
func (c *coalescer) lead(ctx context.Context, call *appendCall) {
	c.mu.Lock()
	batch := c.takeLocked()
	c.last, c.prev = time.Now(), len(batch)
	c.mu.Unlock()
	c.send(ctx, batch)
}

// takeLocked removes the next pipeline's calls from the queue: from the
// oldest, every call whose run is not in it yet, within the bounds. The
// queue is not empty (its oldest call is the caller's).
func (c *coalescer) takeLocked() []*appendCall {
	batch := make([]*appendCall, 0, min(len(c.queue), maxPipelineCalls))
	rest := c.queue[:0]
	bytes := 0
	for i, call := range c.queue {
		if len(batch) == maxPipelineCalls || (len(batch) > 0 && bytes+call.bytes > maxPipelineBytes) {
			rest = append(rest, c.queue[i:]...)
			break
		}
		if _, dup := c.seen[call.key]; dup {
			rest = append(rest, call)
			continue
		}
		c.seen[call.key] = struct{}{}
		batch = append(batch, call)
		bytes += call.bytes
	}
	clear(c.seen)
	clear(c.queue[len(rest):])
	c.queue = rest
	return batch
}

// send runs batch (the caller's call first) as one pipeline, hands the
// next pipeline to the oldest queued call, if any, and then wakes the
// batch's other callers with their results.
func (c *coalescer) send(ctx context.Context, batch []*appendCall) {
	ctx = context.WithoutCancel(ctx)
	if len(batch) == 1 {
		call := batch[0]
		call.first, call.err = appendScript.Run(ctx, c.rdb, []string{call.key}, call.args...).Int64()
	} else {
		c.exec(ctx, batch)
	}
	c.mu.Lock()
	c.returned, c.returnedAt = c.arrivals, time.Now()
	var next *appendCall
	if len(c.queue) > 0 {
		next = c.queue[0]
	} else {
		c.busy = false
	}
	c.mu.Unlock()
	if next != nil {
		next.lead = true
		next.wake <- struct{}{}
	}
	for _, call := range batch[1:] {
		call.wake <- struct{}{}
	}
}

// exec runs the calls of batch in one pipeline with EVALSHA, and those
// that found the script missing from Redis's cache (after a restart or
// SCRIPT FLUSH) once more with EVAL, which caches it again.
func (c *coalescer) exec(ctx context.Context, batch []*appendCall) {
	cmds := make([]*redis.Cmd, len(batch))
	pipe := c.rdb.Pipeline()
	for i, call := range batch {
		cmds[i] = appendScript.EvalSha(ctx, pipe, []string{call.key}, call.args...)
	}
	_, _ = pipe.Exec(ctx) // each command has its own error
	var again []int
	for i, cmd := range cmds {
		if err := cmd.Err(); err != nil && (errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT")) {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		pipe = c.rdb.Pipeline()
		for _, i := range again {
			cmds[i] = appendScript.Eval(ctx, pipe, []string{batch[i].key}, batch[i].args...)
		}
		_, _ = pipe.Exec(ctx)
	}
	for i, call := range batch {
		call.first, call.err = cmds[i].Int64()
	}
}
