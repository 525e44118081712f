package redislog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentgate/agentgate/core"
)

// namedURL is the test Redis URL with a client name, so that the log's
// connections can be told apart in CLIENT LIST.
func namedURL(name string) string {
	url := testURL()
	if strings.Contains(url, "?") {
		return url + "&client_name=" + name
	}
	return url + "?client_name=" + name
}

// clientsNamed returns the CLIENT LIST fields of the connections named name.
func clientsNamed(t *testing.T, name string) []map[string]string {
	t.Helper()
	list, err := adminClient(t).Do(t.Context(), "CLIENT", "LIST").Text()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for line := range strings.SplitSeq(list, "\n") {
		fields := map[string]string{}
		for f := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		if fields["name"] == name {
			out = append(out, fields)
		}
	}
	return out
}

// pubsubOf returns the fields of the one pub/sub connection named name,
// failing t if there is not exactly one.
func pubsubOf(t *testing.T, name string) map[string]string {
	t.Helper()
	var ps []map[string]string
	for _, c := range clientsNamed(t, name) {
		if c["sub"] != "0" || c["psub"] != "0" {
			ps = append(ps, c)
		}
	}
	if len(ps) != 1 {
		t.Fatalf("%d pub/sub connections named %s, want 1: %v", len(ps), name, ps)
	}
	return ps[0]
}

// expectEvents reads events from..to-1 of run from sub, each once, in order.
func expectEvents(t *testing.T, sub core.Subscription, run string, from, to int64) {
	t.Helper()
	for i := from; i < to; i++ {
		ev := nextWithin(t, sub, 10*time.Second)
		if ev.EventIndex != i || ev.RunID != run || ev.Content != fmt.Sprint("c", i) {
			t.Fatalf("got %d %q of %s, want %d of %s", ev.EventIndex, ev.Content, ev.RunID, i, run)
		}
	}
}

// Followers on one replica of runs appended on another get every event
// through the live feed: besides the backlog read of Subscribe, no read of
// the stream per event.
func TestFollowersFedAcrossReplicas(t *testing.T) {
	t.Parallel()
	prefix := newPrefix()
	a := newLog(t, Config{Prefix: prefix})
	b := newLog(t, Config{Prefix: prefix})
	const runs, events = 8, 30
	ids := make([]string, runs)
	subs := make([]core.Subscription, runs)
	for r := range runs {
		ids[r] = newRun()
		mustAppend(t, a, event(ids[r], 0), 0)
		sub, err := b.Subscribe(t.Context(), core.ReadParams{RunID: ids[r], After: 0})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		subs[r] = sub
	}
	reads := b.catchups.Load()
	var wg sync.WaitGroup
	for r := range runs {
		wg.Go(func() {
			for i := 1; i < events; i++ {
				if _, err := a.Append(t.Context(), event(ids[r], i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for r := range runs {
		expectEvents(t, subs[r], ids[r], 1, events)
	}
	wg.Wait()
	// A wait that outlasted BlockTimeout on a loaded machine reads the
	// stream; one read per event and run would be 232.
	if n := b.catchups.Load() - reads; n > runs {
		t.Fatalf("%d reads of the stream for %d runs of %d live events", n, runs, events-1)
	}
	if b.delivered.Load() == 0 {
		t.Fatal("no live message reached replica b")
	}
}

// Events whose message never came (stored without a publish, as if it was
// lost) are read from the stream, exactly: in the middle when the next
// message shows the gap, at the end after BlockTimeout without news.
func TestFeedGapCaughtUp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := newLog(t, Config{BlockTimeout: 300 * time.Millisecond})
	run := newRun()
	mustAppend(t, l, event(run, 0), 0)
	sub, err := l.Subscribe(ctx, core.ReadParams{RunID: run, After: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	unpublished := func(i int) {
		t.Helper()
		raw := fmt.Sprintf(`{"event":"RunContent","event_index":%d,"run_id":%q,"created_at":%d,"content":"c%d"}`, i, run, i, i)
		if err := adminClient(t).XAdd(ctx, &redis.XAddArgs{Stream: l.streamKey(run), ID: fmt.Sprintf("%d-1", i), Values: []any{"e", raw}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	mustAppend(t, l, event(run, 1), 1)
	expectEvents(t, sub, run, 1, 2)
	unpublished(2)
	unpublished(3)
	mustAppend(t, l, event(run, 4), 4)
	expectEvents(t, sub, run, 2, 5)
	// The last event's message lost: BlockTimeout later, the stream.
	unpublished(5)
	start := time.Now()
	expectEvents(t, sub, run, 5, 6)
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("event 5 came after %v, without a message: not through the stream's read after a wait", d)
	}
	mustAppend(t, l, event(run, 6), 6)
	expectEvents(t, sub, run, 6, 7)
}

// The pub/sub connection killed while a run is followed: go-redis
// reconnects and resubscribes, the subscription reads what it missed from
// the stream, and gets every event once, in order, then live events again
// through the new connection.
func TestFeedSurvivesPubSubKill(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	name := "redislog-test-" + randomHex(6)
	prefix := newPrefix()
	a := newLog(t, Config{Prefix: prefix})
	b := newLog(t, Config{URL: namedURL(name), Prefix: prefix})
	run := newRun()
	sub, err := b.Subscribe(ctx, core.ReadParams{RunID: run, After: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	const events = 200
	appended := make(chan int64, events)
	go func() {
		for i := range events {
			if _, err := a.Append(ctx, event(run, i)); err != nil {
				t.Error(err)
				return
			}
			appended <- int64(i)
			time.Sleep(time.Millisecond)
		}
	}()
	id := pubsubOf(t, name)["id"]
	expectEvents(t, sub, run, 0, 50)
	if err := adminClient(t).Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, sub, run, 50, events)
	for range events {
		<-appended
	}
	// A live event after the reconnect comes through the feed.
	deadline := time.Now().Add(10 * time.Second)
	for pubsubOf(t, name)["id"] == id || pubsubOf(t, name)["sub"] != "2" {
		if time.Now().After(deadline) {
			t.Fatal("pub/sub connection not re-established with both channels")
		}
		time.Sleep(10 * time.Millisecond)
	}
	delivered := b.delivered.Load()
	mustAppend(t, a, event(run, events), events)
	expectEvents(t, sub, run, events, events+1)
	if b.delivered.Load() == delivered {
		t.Fatal("the event after the reconnect did not come through the feed")
	}
}

// Trimming that overtook a follower is refused as before: the feed does
// not hold what the stream no longer keeps, so the follower gets a
// GoneError naming the first index kept, after what it had taken.
func TestFeedTrimmedRefuses(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	prefix := newPrefix()
	cfg := Config{Prefix: prefix, EventLog: core.EventLogConfig{MaxEventsPerRun: 10}}
	a, b := newLog(t, cfg), newLog(t, cfg)
	run := newRun()
	mustAppend(t, a, event(run, 0), 0)
	sub, err := b.Subscribe(ctx, core.ReadParams{RunID: run, After: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	expectEvents(t, sub, run, 0, 1)
	for i := 1; i < 3; i++ {
		mustAppend(t, a, event(run, i), int64(i))
	}
	expectEvents(t, sub, run, 1, 3)
	// 30 more while the follower does not read: the stream keeps 23..32.
	for i := 3; i < 33; i++ {
		mustAppend(t, a, event(run, i), int64(i))
	}
	// Their messages reached b's feed (32: events 1..32; event 0 was
	// appended before b followed the run).
	deadline := time.Now().Add(10 * time.Second)
	for b.delivered.Load() < 32 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = sub.Next(nctx)
	var ge *core.GoneError
	if !errors.As(err, &ge) || ge.FirstIndex != 23 || ge.RunID != run {
		t.Fatalf("Next after trimming overtook the follower: %v, want GoneError{%s, 23}", err, run)
	}
}

// However many runs a Log follows, it holds one pub/sub connection for
// them (and the cancel channel), and no connection waits in a blocking
// read; their channels are unsubscribed as their subscriptions close.
func TestManyRunsShareOnePubSubConnection(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	name := "redislog-test-" + randomHex(6)
	prefix := newPrefix()
	a := newLog(t, Config{Prefix: prefix})
	b := newLog(t, Config{URL: namedURL(name), Prefix: prefix})
	const runs = 60
	ids := make([]string, runs)
	subs := make([]core.Subscription, runs)
	for r := range runs {
		ids[r] = newRun()
		sub, err := b.Subscribe(ctx, core.ReadParams{RunID: ids[r], After: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		subs[r] = sub
	}
	// Every follower waiting for its run's first event.
	var wg sync.WaitGroup
	for r := range runs {
		wg.Go(func() {
			nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if ev, err := subs[r].Next(nctx); err != nil || ev.EventIndex != 0 {
				t.Errorf("run %d: %d, %v", r, ev.EventIndex, err)
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	if ps := pubsubOf(t, name); ps["sub"] != fmt.Sprint(runs+1) {
		t.Fatalf("the pub/sub connection has %s channels, want %d (the runs and cancel)", ps["sub"], runs+1)
	}
	// Besides it, only the ordinary pools' connections (for the reads of
	// the stream), none blocked.
	conns := clientsNamed(t, name)
	for _, c := range conns {
		if strings.Contains(c["flags"], "b") {
			t.Fatalf("a connection blocked in %s: %v", c["cmd"], c)
		}
	}
	for r := range runs {
		mustAppend(t, a, event(ids[r], 0), 0)
	}
	wg.Wait()
	for _, sub := range subs {
		_ = sub.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for pubsubOf(t, name)["sub"] != "1" {
		if time.Now().After(deadline) {
			t.Fatalf("after the subscriptions closed the pub/sub connection has %s channels, want 1", pubsubOf(t, name)["sub"])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A feed whose channel subscription is not in effect (a SUBSCRIBE lost with
// its connection, here undone behind the feed's back) is not left to
// polling: after a quiet period its subscription subscribes again, and live
// events come through the feed once more, none lost or repeated.
func TestFeedResubscribesWhenUnconfirmed(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := newLog(t, Config{BlockTimeout: 200 * time.Millisecond})
	run := newRun()
	mustAppend(t, l, event(run, 0), 0)
	sub, err := l.Subscribe(ctx, core.ReadParams{RunID: run, After: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	expectEvents(t, sub, run, 0, 1)
	f := l.feedOf(l.streamKey(run))
	// Confirmed first (a confirmation arriving after the UNSUBSCRIBE would
	// mark the feed in effect again).
	for on, until := false, time.Now().Add(10*time.Second); !on; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(until) {
			t.Fatal("the run's channel subscription was never confirmed")
		}
		f.mu.Lock()
		on = f.on
		f.mu.Unlock()
	}
	if err := l.ps.Unsubscribe(ctx, f.channel); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.on = false
	f.mu.Unlock()
	mustAppend(t, l, event(run, 1), 1)
	expectEvents(t, sub, run, 1, 2) // read from the stream after a quiet period
	deadline := time.Now().Add(10 * time.Second)
	for i := 2; ; i++ {
		delivered := l.delivered.Load()
		mustAppend(t, l, event(run, i), int64(i))
		expectEvents(t, sub, run, int64(i), int64(i+1))
		if l.delivered.Load() > delivered {
			break
		}
		if time.Now().After(deadline) {
			f.mu.Lock()
			t.Logf("on %v epoch %d sub epoch %d first %d held %d pos %d", f.on, f.epoch, sub.(*subscription).epoch, f.first, len(f.held), sub.(*subscription).pos)
			f.mu.Unlock()
			t.Fatal("live events do not come through the feed again")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
