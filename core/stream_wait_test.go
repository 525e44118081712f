package core

import (
	"context"
	"testing"
	"time"
)

// A bounded wait on a feed ends at its bound even when the store's silence
// checks come more often: the checks do not restart the caller's bound (a
// heartbeat longer than the check interval is still written). An event
// pushed then is taken by the next wait.
func TestStreamWaitOutlastsSilenceChecks(t *testing.T) {
	t.Parallel()
	f := newFeed()
	s := &Stream{feed: f, last: -1, checkEvery: 5 * time.Millisecond}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, ok, err := s.NextWithin(ctx, 100*time.Millisecond)
	if ok || err != nil {
		t.Fatalf("a wait on a silent feed: ok %v, %v", ok, err)
	}
	if waited := time.Since(start); waited < 100*time.Millisecond || waited > 5*time.Second {
		t.Fatalf("a wait of 100ms lasted %v", waited)
	}
	f.push(&Event{Event: EventRunContent, EventIndex: 0}, 0, false)
	ev, ok, err := s.NextWithin(ctx, time.Second)
	if !ok || err != nil || ev.EventIndex != 0 {
		t.Fatalf("after a push: %+v, ok %v, %v", ev.EventIndex, ok, err)
	}
}
