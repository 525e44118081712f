package redislog

// These tests need a real Redis (7 or later): 127.0.0.1:6379 database 0, or
// the URL in TEST_REDIS_URL. They fail, never skip, when it is unreachable.
// Every log gets a random key prefix, and every key under it is deleted when
// its test ends.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/storage/eventlogtest"
)

func testURL() string {
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		return u
	}
	return DefaultURL
}

var (
	adminOnce sync.Once
	admin     *redis.Client
	adminErr  error
)

// adminClient returns a plain client on the test Redis, failing tb when
// Redis cannot be reached.
func adminClient(tb testing.TB) *redis.Client {
	tb.Helper()
	adminOnce.Do(func() {
		opts, err := redis.ParseURL(testURL())
		if err != nil {
			adminErr = err
			return
		}
		admin = redis.NewClient(opts)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		adminErr = admin.Ping(ctx).Err()
	})
	if adminErr != nil {
		tb.Fatalf("redislog tests need a Redis 7 at %s (set TEST_REDIS_URL to use another): %v", testURL(), adminErr)
	}
	return admin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if admin != nil {
		_ = admin.Close()
	}
	os.Exit(code)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newPrefix() string { return "agentgate-test:" + randomHex(6) + ":" }

// deletePrefix deletes every key under prefix.
func deletePrefix(tb testing.TB, prefix string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rdb := adminClient(tb)
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		tb.Errorf("scanning the keys of %s: %v", prefix, err)
		return
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if err := rdb.Unlink(ctx, keys[:n]...).Err(); err != nil {
			tb.Errorf("deleting the keys of %s: %v", prefix, err)
			return
		}
		keys = keys[n:]
	}
}

// newLog returns a log on the test Redis with cfg (a random prefix unless
// cfg has one), closed and its keys deleted when tb ends.
func newLog(tb testing.TB, cfg Config) *Log {
	tb.Helper()
	adminClient(tb)
	if cfg.URL == "" {
		cfg.URL = testURL()
	}
	if cfg.Prefix == "" {
		cfg.Prefix = newPrefix()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := New(ctx, cfg)
	if err != nil {
		tb.Fatalf("New(%s): %v", cfg.URL, err)
	}
	tb.Cleanup(func() {
		_ = l.Close()
		deletePrefix(tb, cfg.Prefix)
	})
	return l
}

func TestEventLog(t *testing.T) {
	t.Parallel()
	adminClient(t)
	eventlogtest.Run(t, func(t *testing.T, cfg core.EventLogConfig) core.EventLog {
		return newLog(t, Config{EventLog: cfg})
	})
}

func newRun() string { return "run-" + randomHex(8) }

func event(run string, i int) *core.Event {
	return &core.Event{Event: core.EventRunContent, RunID: run, CreatedAt: int64(i), Content: fmt.Sprint("c", i)}
}

func mustAppend(t *testing.T, l *Log, ev *core.Event, want int64) {
	t.Helper()
	idx, err := l.Append(t.Context(), ev)
	if err != nil || idx != want {
		t.Fatalf("Append: %d, %v; want %d", idx, err, want)
	}
}

func nextWithin(t *testing.T, sub core.Subscription, d time.Duration) core.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	ev, err := sub.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return ev
}

func closedWithin(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	default:
	}
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

// Two logs on one Redis and prefix stand for two gateway replicas: each sees
// the other's appends, live events and cancel signals.
func TestReplicas(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	prefix := newPrefix()
	a := newLog(t, Config{Prefix: prefix})
	b := newLog(t, Config{Prefix: prefix})
	run := newRun()

	sub, err := b.Subscribe(ctx, core.ReadParams{RunID: run, After: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for i := range 3 {
		mustAppend(t, a, event(run, i), int64(i))
	}
	for i := range int64(3) {
		if ev := nextWithin(t, sub, 3*time.Second); ev.EventIndex != i || ev.Content != fmt.Sprint("c", i) {
			t.Fatalf("replica b's subscriber got %d/%q, want %d", ev.EventIndex, ev.Content, i)
		}
	}
	// The run continues on the other replica and keeps counting.
	mustAppend(t, b, event(run, 3), 3)
	evs, err := a.Read(ctx, core.ReadParams{RunID: run, After: -1})
	if err != nil || len(evs) != 4 || evs[3].Content != "c3" {
		t.Fatalf("replica a reads %d events, %v; want 4", len(evs), err)
	}
	if ev := nextWithin(t, sub, 3*time.Second); ev.EventIndex != 3 {
		t.Fatalf("subscriber got %d, want 3", ev.EventIndex)
	}

	// A cancel signalled on a reaches a watcher on b ...
	ch, stop, err := b.WatchCancel(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if closedWithin(ch, 50*time.Millisecond) {
		t.Fatal("cancel channel closed before any signal")
	}
	if err := a.SignalCancel(ctx, run); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(ch, 3*time.Second) {
		t.Fatal("replica b's watcher did not see replica a's cancel")
	}
	// ... and is remembered for a watcher that starts later elsewhere.
	other := newRun()
	if err := b.SignalCancel(ctx, other); err != nil {
		t.Fatal(err)
	}
	ch2, stop2, err := a.WatchCancel(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	if !closedWithin(ch2, 0) {
		t.Fatal("a cancel signalled on b is not remembered on a")
	}

	// Finish on one replica expires the run for both; an append on the
	// other revives it.
	if err := a.Finish(ctx, run); err != nil {
		t.Fatal(err)
	}
	if ttl := adminClient(t).PTTL(ctx, a.streamKey(run)).Val(); ttl <= 0 {
		t.Fatalf("TTL after Finish = %v, want the retention", ttl)
	}
	mustAppend(t, b, event(run, 4), 4)
	if ttl := adminClient(t).PTTL(ctx, a.streamKey(run)).Val(); ttl != -1 {
		t.Fatalf("TTL after an append = %v, want none (-1)", ttl)
	}
}

// Appends from 8 goroutines across two replicas get dense, unique indices,
// increasing for each goroutine, and are stored as appended.
func TestConcurrentAppendsAcrossReplicas(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	prefix := newPrefix()
	logs := []*Log{newLog(t, Config{Prefix: prefix}), newLog(t, Config{Prefix: prefix})}
	run := newRun()
	const writers, each = 8, 100
	got := make([][]int64, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			l := logs[w%2]
			for i := range each {
				ev := event(run, i)
				ev.AgentID = fmt.Sprint("w", w)
				ev.EventIndex = 12345 // ignored: the run has events
				if i == 0 && w == 0 {
					ev.EventIndex = 0
				}
				idx, err := l.Append(ctx, ev)
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				got[w] = append(got[w], idx)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	owner := map[int64]int{}
	for w, idxs := range got {
		for i, idx := range idxs {
			if prev, dup := owner[idx]; dup {
				t.Fatalf("index %d given to writers %d and %d", idx, prev, w)
			}
			owner[idx] = w
			if i > 0 && idx <= idxs[i-1] {
				t.Fatalf("writer %d got %d after %d", w, idx, idxs[i-1])
			}
		}
	}
	// The first append may have been any writer's, with EventIndex 12345
	// taken as the start: the indices are dense from the smallest.
	var lo int64 = 1 << 62
	for idx := range owner {
		lo = min(lo, idx)
	}
	if lo != 0 && lo != 12345 {
		t.Fatalf("smallest index %d, want 0 or 12345", lo)
	}
	for i := lo; i < lo+writers*each; i++ {
		if _, ok := owner[i]; !ok {
			t.Fatalf("index %d never given", i)
		}
	}
	evs, err := logs[1].Read(ctx, core.ReadParams{RunID: run, After: lo - 1})
	if err != nil || len(evs) != writers*each {
		t.Fatalf("Read: %d events, %v", len(evs), err)
	}
	for i, ev := range evs {
		if ev.EventIndex != lo+int64(i) || ev.AgentID != fmt.Sprint("w", owner[ev.EventIndex]) {
			t.Fatalf("event %d: index %d by %s, want index %d by w%d", i, ev.EventIndex, ev.AgentID, lo+int64(i), owner[lo+int64(i)])
		}
	}
}

// The stream holds entry "i-1" for index i, and its JSON is the event's wire
// form with the right index.
func TestStoredForm(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := newLog(t, Config{})
	run := newRun()
	for i := range 3 {
		ev := event(run, i)
		ev.Content = `<b>"quoted"</b>,"event_index":0,`
		mustAppend(t, l, ev, int64(i))
	}
	msgs, err := adminClient(t).XRange(ctx, l.streamKey(run), "-", "+").Result()
	if err != nil || len(msgs) != 3 {
		t.Fatalf("XRANGE: %d entries, %v", len(msgs), err)
	}
	for i, m := range msgs {
		if want := fmt.Sprintf("%d-1", i); m.ID != want {
			t.Fatalf("entry %d has ID %s, want %s", i, m.ID, want)
		}
		raw := m.Values["e"].(string)
		if !strings.Contains(raw, `<b>`) {
			t.Fatalf("stored JSON escapes HTML: %s", raw)
		}
		var ev core.Event
		if err := json.Unmarshal([]byte(raw), &ev); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if ev.EventIndex != int64(i) || ev.Content != `<b>"quoted"</b>,"event_index":0,` {
			t.Fatalf("entry %d stores index %d, content %q", i, ev.EventIndex, ev.Content)
		}
		if m.Values["t"] == nil {
			t.Fatalf("entry %d has no append token", i)
		}
	}
}

func TestAppendBatch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := newLog(t, Config{EventLog: core.EventLogConfig{MaxEventsPerRun: 10}})
	run := newRun()
	batch := func(from, n int) []*core.Event {
		evs := make([]*core.Event, n)
		for i := range evs {
			evs[i] = event(run, from+i)
		}
		return evs
	}
	// A run the log holds nothing of starts at the first event's index.
	evs := batch(5, 4)
	evs[0].EventIndex = 5
	if first, err := l.AppendBatch(ctx, evs); err != nil || first != 5 {
		t.Fatalf("AppendBatch: %d, %v; want 5", first, err)
	}
	for i, ev := range evs {
		if ev.EventIndex != int64(5+i) {
			t.Fatalf("event %d got index %d", i, ev.EventIndex)
		}
	}
	// A batch larger than what is kept trims exactly.
	if first, err := l.AppendBatch(ctx, batch(9, 12)); err != nil || first != 9 {
		t.Fatalf("AppendBatch: %d, %v; want 9", first, err)
	}
	got, err := l.Read(ctx, core.ReadParams{RunID: run, After: 10})
	if err != nil || len(got) != 10 || got[0].Content != "c11" || got[9].Content != "c20" {
		t.Fatalf("Read: %d events, %v; want c11..c20", len(got), err)
	}
	_, err = l.Read(ctx, core.ReadParams{RunID: run, After: 9})
	var ge *core.GoneError
	if !errors.As(err, &ge) || ge.FirstIndex != 11 || ge.RunID != run {
		t.Fatalf("Read below the kept window: %v, want GoneError{%s, 11}", err, run)
	}

	mixed := []*core.Event{event(run, 0), event(newRun(), 0)}
	if _, err := l.AppendBatch(ctx, mixed); !errors.Is(err, core.ErrInvalid) {
		t.Fatalf("AppendBatch of two runs: %v, want ErrInvalid", err)
	}
	if _, err := l.AppendBatch(ctx, nil); !errors.Is(err, core.ErrInvalid) {
		t.Fatalf("AppendBatch of nothing: %v, want ErrInvalid", err)
	}
}

// An append retried with its token (go-redis replaying it after a lost
// reply) is applied once.
func TestAppendRetryIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := newLog(t, Config{})
	run := newRun()
	mustAppend(t, l, event(run, 0), 0)
	args := func(token string, n int) []any {
		a := []any{1000, 0, token}
		for range n {
			a = append(a, `{"event":"RunContent","event_index":`, `,"run_id":"`+run+`","created_at":0}`)
		}
		return a
	}
	keys := []string{l.streamKey(run)}
	for range 2 {
		if idx, err := appendScript.Run(ctx, l.rdb, keys, args("tok-1", 1)...).Int64(); err != nil || idx != 1 {
			t.Fatalf("append with token: %d, %v; want 1", idx, err)
		}
	}
	for range 2 {
		if idx, err := appendScript.Run(ctx, l.rdb, keys, args("tok-2", 3)...).Int64(); err != nil || idx != 2 {
			t.Fatalf("batch with token: %d, %v; want 2", idx, err)
		}
	}
	if n := adminClient(t).XLen(ctx, keys[0]).Val(); n != 5 {
		t.Fatalf("stream holds %d entries, want 5", n)
	}
	evs, err := l.Read(ctx, core.ReadParams{RunID: run, After: -1})
	if err != nil || len(evs) != 5 || evs[4].EventIndex != 4 {
		t.Fatalf("Read: %d events, %v", len(evs), err)
	}
}

// A subscriber whose run expires under it learns so with a GoneError that
// names its cursor, instead of waiting for ever.
func TestSubscriberOfExpiredRun(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := newLog(t, Config{
		EventLog:     core.EventLogConfig{Retention: 50 * time.Millisecond},
		BlockTimeout: 100 * time.Millisecond,
	})
	run := newRun()
	for i := range 3 {
		mustAppend(t, l, event(run, i), int64(i))
	}
	sub, err := l.Subscribe(ctx, core.ReadParams{RunID: run, After: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := l.Finish(ctx, run); err != nil {
		t.Fatal(err)
	}
	nctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err = sub.Next(nctx)
	var ge *core.GoneError
	if !errors.As(err, &ge) || ge.FirstIndex != 3 || ge.RunID != run {
		t.Fatalf("Next on an expired run: %v, want GoneError{%s, 3}", err, run)
	}
}

// The subscribers of one run in one Log share its feed: however many wait,
// the events reach them through it rather than by reads of the stream, and
// each gets every event after its own cursor, in order, also one that
// joined late and one that paused.
func TestSubscribersShareOneRead(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := newLog(t, Config{BlockTimeout: 500 * time.Millisecond})
	run := newRun()
	const subscribers, events = 16, 40
	var wg sync.WaitGroup
	follow := func(name string, after int64, slow bool) {
		sub, err := l.Subscribe(ctx, core.ReadParams{RunID: run, After: after})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer sub.Close()
			for i := after + 1; i < events; i++ {
				if slow && i == after+1 {
					time.Sleep(300 * time.Millisecond)
				}
				nctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				ev, err := sub.Next(nctx)
				cancel()
				if err != nil || ev.EventIndex != i || ev.Content != fmt.Sprint("c", i) {
					t.Errorf("%s: got %d %q, %v; want %d", name, ev.EventIndex, ev.Content, err, i)
					return
				}
			}
		})
	}
	for s := range subscribers {
		follow(fmt.Sprint("subscriber ", s), -1, false)
	}
	time.Sleep(100 * time.Millisecond) // all waiting
	before := l.catchups.Load()
	for i := range events / 2 {
		mustAppend(t, l, event(run, i), int64(i))
	}
	follow("late subscriber", 3, false)
	follow("slow subscriber", -1, true)
	for i := events / 2; i < events; i++ {
		mustAppend(t, l, event(run, i), int64(i))
	}
	wg.Wait()
	// The late subscriber's backlog read, and a few more at most (a wait
	// that outlasted BlockTimeout on a loaded machine): never one per
	// subscriber and event (18 of them, 40 events).
	if n := l.catchups.Load() - before; n > subscribers/2 {
		t.Fatalf("%d reads of the stream for %d subscribers of %d events", n, subscribers+2, events)
	}
	if l.delivered.Load() == 0 {
		t.Fatal("no live message was fed")
	}
}

// A signal published while the pub/sub connection is down is lost; the
// watch still fires, from the check made after go-redis resubscribes.
func TestCancelSurvivesPubSubReconnect(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	name := "redislog-test-" + randomHex(6)
	url := testURL()
	if strings.Contains(url, "?") {
		url += "&client_name=" + name
	} else {
		url += "?client_name=" + name
	}
	prefix := newPrefix()
	l := newLog(t, Config{URL: url, Prefix: prefix})
	other := newLog(t, Config{Prefix: prefix})
	run := newRun()
	ch, stop, err := l.WatchCancel(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	rdb := adminClient(t)
	pubsubID := func() string {
		t.Helper()
		list, err := rdb.Do(ctx, "CLIENT", "LIST", "TYPE", "pubsub").Text()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(list, "\n") {
			if strings.Contains(line, " name="+name+" ") {
				id, _, _ := strings.Cut(strings.TrimPrefix(line, "id="), " ")
				return id
			}
		}
		return ""
	}
	id := pubsubID()
	if id == "" {
		t.Fatal("the log's pub/sub connection is not in CLIENT LIST")
	}
	// The signal: its key, without the message (as if published while
	// the connection was down).
	if err := rdb.Set(ctx, l.cancelKey(run), "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if closedWithin(ch, 100*time.Millisecond) {
		t.Fatal("watch fired without a message or a reconnect")
	}
	if err := rdb.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(ch, 5*time.Second) {
		t.Fatal("watch did not fire after the pub/sub connection came back")
	}
	// Messages flow again on the new connection.
	run2 := newRun()
	ch2, stop2, err := l.WatchCancel(ctx, run2)
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	deadline := time.Now().Add(5 * time.Second)
	for pubsubID() == "" || pubsubID() == id {
		if time.Now().After(deadline) {
			t.Fatal("pub/sub connection not re-established")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := other.SignalCancel(ctx, run2); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(ch2, 3*time.Second) {
		t.Fatal("a signal after the reconnect did not arrive")
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := New(ctx, Config{URL: "redis://127.0.0.1:1/0"})
	if !errors.Is(err, core.ErrUnavailable) || core.CodeOf(err) != core.CodeUnavailable {
		t.Fatalf("New with nothing listening: %v, want ErrUnavailable", err)
	}
	if msg := core.MessageOf(err); strings.Contains(msg, "127.0.0.1") {
		t.Fatalf("user message %q reveals the address", msg)
	}
	t.Logf("New failed after %v: %v", time.Since(start).Round(time.Millisecond), err)

	if _, err := New(ctx, Config{URL: "http://nope"}); !errors.Is(err, core.ErrInvalid) {
		t.Fatalf("New with a bad URL: %v, want ErrInvalid", err)
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	l := newLog(t, Config{})
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := l.Ping(t.Context()); !errors.Is(err, ErrClosed) || core.CodeOf(err) != core.CodeUnavailable {
		t.Fatalf("Ping after Close: %v (code %s), want ErrClosed / unavailable", err, core.CodeOf(err))
	}
}

func TestInvalidInput(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := newLog(t, Config{})
	errs := map[string]error{}
	_, errs["Append nil"] = l.Append(ctx, nil)
	_, errs["Append without run"] = l.Append(ctx, &core.Event{Event: core.EventRunStarted})
	_, errs["Read without run"] = l.Read(ctx, core.ReadParams{After: -1})
	_, errs["Read below -1"] = l.Read(ctx, core.ReadParams{RunID: "r", After: -2})
	_, errs["Subscribe below -1"] = l.Subscribe(ctx, core.ReadParams{RunID: "r", After: -2})
	errs["Finish without run"] = l.Finish(ctx, "")
	errs["SignalCancel without run"] = l.SignalCancel(ctx, "")
	_, _, errs["WatchCancel without run"] = l.WatchCancel(ctx, "")
	for name, err := range errs {
		if !errors.Is(err, core.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c := Config{}.WithDefaults()
	if c.URL != DefaultURL || c.Prefix != DefaultPrefix ||
		c.BlockTimeout != DefaultBlockTimeout || c.EventLog.MaxEventsPerRun != 10000 || c.EventLog.Retention != time.Hour {
		t.Fatalf("defaults: %+v", c)
	}
}

// AppendFinish appends like Append and finishes the run like Finish, in one
// step: the stream gets Retention as its TTL, and a later Append removes it.
func TestAppendFinish(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := newLog(t, Config{EventLog: core.EventLogConfig{Retention: time.Minute}})
	run := newRun()
	mustAppend(t, l, event(run, 0), 0)
	admin := adminClient(t)
	key := l.streamKey(run)
	if ttl := admin.PTTL(ctx, key).Val(); ttl != -1 {
		t.Fatalf("TTL after Append: %v, want none", ttl)
	}
	ev := event(run, 0)
	if idx, err := l.AppendFinish(ctx, ev); err != nil || idx != 1 || ev.EventIndex != 1 {
		t.Fatalf("AppendFinish: %d (event %d), %v; want 1", idx, ev.EventIndex, err)
	}
	if ttl := admin.PTTL(ctx, key).Val(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("TTL after AppendFinish: %v, want (0, 1m]", ttl)
	}
	mustAppend(t, l, event(run, 0), 2)
	if ttl := admin.PTTL(ctx, key).Val(); ttl != -1 {
		t.Fatalf("TTL after a later Append: %v, want none", ttl)
	}
	evs, err := l.Read(ctx, core.ReadParams{RunID: run, After: -1})
	if err != nil || len(evs) != 3 || evs[1].EventIndex != 1 || evs[2].EventIndex != 2 {
		t.Fatalf("Read: %d events, %v", len(evs), err)
	}
	// A new run starts at the caller's index, as with Append.
	fresh := newRun()
	ev = event(fresh, 0)
	ev.EventIndex = 7
	if idx, err := l.AppendFinish(ctx, ev); err != nil || idx != 7 {
		t.Fatalf("AppendFinish of a new run: %d, %v; want 7", idx, err)
	}
}
