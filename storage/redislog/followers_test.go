package redislog

import (
	"context"
	"testing"
	"time"
)

// A follower on one replica is seen from another while it follows, for the
// linger after it stops, and not after that; a follower's record lapses if
// it is no longer renewed.
func TestFollowers(t *testing.T) {
	t.Parallel()
	cfg := Config{URL: testURL(), Prefix: newPrefix()}
	a, b := newLog(t, cfg), newLog(t, cfg)
	ctx := context.Background()
	run := newRun()
	if u, err := b.FollowedUntil(ctx, run); err != nil || !u.IsZero() {
		t.Fatalf("a run nobody followed: %v, %v", u, err)
	}
	const linger = 600 * time.Millisecond
	stop, err := a.Follow(ctx, run, linger)
	if err != nil {
		t.Fatal(err)
	}
	// Renewed while it follows: still ahead after several lingers.
	deadline := time.Now().Add(3 * linger)
	for time.Now().Before(deadline) {
		u, err := b.FollowedUntil(ctx, run)
		if err != nil || !u.After(time.Now()) {
			t.Fatalf("a live follower seen from another replica: until %v (now %v), %v", u, time.Now(), err)
		}
		time.Sleep(linger / 4)
	}
	stopped := time.Now()
	stop()
	stop() // idempotent
	u, err := b.FollowedUntil(ctx, run)
	if err != nil || u.Before(stopped.Add(linger-50*time.Millisecond)) {
		t.Fatalf("a follower that just left counts for the linger: until %v, left %v, %v", u, stopped, err)
	}
	for time.Now().Before(u) {
		time.Sleep(50 * time.Millisecond)
	}
	if u2, err := b.FollowedUntil(ctx, run); err != nil || u2.After(time.Now()) {
		t.Fatalf("after the linger: until %v, %v", u2, err)
	}
}
