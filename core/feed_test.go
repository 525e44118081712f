package core

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The feed hands every event in order, also when the reader lags behind
// (the array compacted rather than grown), then reports the end.
func TestFeedOrderAndEnd(t *testing.T) {
	t.Parallel()
	f := newFeed()
	ctx := context.Background()
	next := int64(0)
	read := func(n int) {
		t.Helper()
		for range n {
			ev, ok, err := f.next(ctx, nil, false)
			if err != nil || !ok || ev.EventIndex != next {
				t.Fatalf("next: %d %v %v, want index %d", ev.EventIndex, ok, err, next)
			}
			next++
		}
	}
	pushed := int64(0)
	push := func(n int) {
		for range n {
			f.push(&Event{EventIndex: pushed, Content: "x"}, pushed, false)
			pushed++
		}
	}
	// A reader one behind for a long stretch: the array stays small.
	push(1)
	for range 1000 {
		push(1)
		read(1)
	}
	if c := cap(f.evs); c > feedSize {
		t.Errorf("a reader one event behind grew the array to %d", c)
	}
	push(5)
	read(6)
	f.end()
	f.push(&Event{EventIndex: 99}, 99, false) // after the end: dropped
	if _, ok, err := f.next(ctx, nil, false); ok || err != nil {
		t.Fatalf("after the end: ok %v err %v", ok, err)
	}
}

// A waiting reader is woken by a push from another goroutine and by the
// end; a cancelled context ends the wait.
func TestFeedWakesTheReader(t *testing.T) {
	t.Parallel()
	f := newFeed()
	go func() {
		time.Sleep(10 * time.Millisecond)
		f.push(&Event{EventIndex: 0}, 0, false)
		time.Sleep(10 * time.Millisecond)
		f.end()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ev, ok, err := f.next(ctx, nil, false); !ok || err != nil || ev.EventIndex != 0 {
		t.Fatalf("first: %v %v %v", ev.EventIndex, ok, err)
	}
	if _, ok, err := f.next(ctx, nil, false); ok || err != nil {
		t.Fatalf("end: %v %v", ok, err)
	}

	g := newFeed()
	cctx, ccancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, ccancel)
	if _, ok, err := g.next(cctx, nil, false); ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v %v", ok, err)
	}
	g.close()
	g.push(&Event{}, 0, false) // after close: dropped
	if len(g.evs) != 0 {
		t.Fatal("a closed feed kept an event")
	}
}

// Pushing and reading an event the log indexed allocates nothing once the
// feed is warm (it used to copy each event into an array that grew per
// run, and allocate a channel per event).
func TestFeedAllocatesNothingPerEvent(t *testing.T) {
	f := newFeed()
	ctx := context.Background()
	ev := &Event{Event: EventRunContent, Content: "chunk"}
	f.push(ev, 0, false)
	_, _, _ = f.next(ctx, nil, false)
	if n := testing.AllocsPerRun(1000, func() {
		f.push(ev, 0, false)
		f.push(ev, 0, false)
		_, _, _ = f.next(ctx, nil, false)
		_, _, _ = f.next(ctx, nil, false)
	}); n != 0 {
		t.Errorf("%v allocations per two events, want 0", n)
	}
}

// A held event (the log is still to index it) and one whose index the log
// did not write are copied with the index the writer got; an indexed one
// is shared.
func TestFeedCopiesWhatTheLogMayStillChange(t *testing.T) {
	t.Parallel()
	f := newFeed()
	held := &Event{EventIndex: 3}
	f.push(held, 3, true)
	unindexed := &Event{EventIndex: 1}
	f.push(unindexed, 4, false)
	indexed := &Event{EventIndex: 5}
	f.push(indexed, 5, false)
	held.EventIndex = 30 // as the log indexing it later would
	if f.evs[0] == held || f.evs[1] == unindexed || f.evs[2] != indexed {
		t.Fatal("held or unindexed events shared, or an indexed one copied")
	}
	for _, want := range []int64{3, 4, 5} {
		if ev, ok, err := f.next(context.Background(), nil, false); !ok || err != nil || ev.EventIndex != want {
			t.Fatalf("next: %d %v %v, want %d", ev.EventIndex, ok, err, want)
		}
	}
}

// A bounded feed takes events up to its limit of unread ones; the push
// past it releases them all and ends the feed (the reader is told it
// overflowed: ok false), and later pushes are refused. A reader that keeps
// up is never cut off.
func TestBoundedFeedOverflows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const limit = 8
	f := newBoundedFeed(limit)
	for i := range int64(3 * limit) {
		// Reading each one at once: never more than one unread.
		if !f.push(&Event{EventIndex: i}, i, false) {
			t.Fatalf("push %d refused for a reader keeping up", i)
		}
		if ev, ok, err := f.next(ctx, nil, false); !ok || err != nil || ev.EventIndex != i {
			t.Fatalf("next: %d %v %v, want %d", ev.EventIndex, ok, err, i)
		}
	}
	g := newBoundedFeed(limit)
	for i := range int64(limit) {
		if !g.push(&Event{EventIndex: i}, i, false) {
			t.Fatalf("push %d of %d refused", i, limit)
		}
	}
	if g.push(&Event{EventIndex: limit}, limit, false) {
		t.Fatal("the push past the limit was taken")
	}
	g.mu.Lock()
	held := len(g.evs)
	g.mu.Unlock()
	if held != 0 {
		t.Fatalf("an overflowed feed holds %d events", held)
	}
	if g.push(&Event{EventIndex: limit + 1}, limit+1, false) {
		t.Fatal("a push after the overflow was taken")
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, ok, err := g.next(wctx, nil, false); ok || err != nil {
		t.Fatalf("after the overflow: ok %v err %v, want the feed's end", ok, err)
	}
}
