package redislog

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentgate/agentgate/core"
)

// Followers (core.FollowerRegistry): P{R}:followers is a sorted set whose
// members are the followers of run R, each scored with the Unix time in
// milliseconds at which its record lapses. A follower renews its record
// every third of linger while it follows and, when it stops, leaves it to
// lapse linger later; the key itself expires a little after its latest
// record. The replica executing a run whose client went away reads the
// highest score.

func (l *Log) followersKey(runID string) string { return l.cfg.Prefix + "{" + runID + "}:followers" }

// Follow implements core.FollowerRegistry.
func (l *Log) Follow(ctx context.Context, runID string, linger time.Duration) (func(), error) {
	if runID == "" {
		return nil, invalid("no run id")
	}
	if linger <= 0 {
		return nil, invalid("linger must be positive")
	}
	if err := l.check(ctx); err != nil {
		return nil, err
	}
	key, member := l.followersKey(runID), core.NewUUID()
	record := func(ctx context.Context) error {
		until := time.Now().Add(linger)
		_, err := l.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.ZAdd(ctx, key, redis.Z{Score: float64(until.UnixMilli()), Member: member})
			p.PExpireAt(ctx, key, until.Add(time.Second))
			return nil
		})
		return l.fail(ctx, "follow", err)
	}
	if err := record(ctx); err != nil {
		return nil, err
	}
	var (
		mu      sync.Mutex
		stopped bool
		t       *time.Timer
	)
	renew := func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped || l.closed.Load() {
			return
		}
		rctx, cancel := context.WithTimeout(context.Background(), linger/3+time.Second)
		_ = record(rctx) // a failed renewal is retried at the next one
		cancel()
		t.Reset(linger / 3)
	}
	// Armed once assigned, so the callback never races the assignment.
	t = time.AfterFunc(time.Hour, renew)
	t.Reset(linger / 3)
	return func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		stopped = true
		t.Stop()
		if l.closed.Load() {
			return
		}
		// The record lasts linger from now: the follower counts for that
		// long after it left (it may be reconnecting).
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = record(sctx)
		cancel()
	}, nil
}

// FollowedUntil implements core.FollowerRegistry.
func (l *Log) FollowedUntil(ctx context.Context, runID string) (time.Time, error) {
	if runID == "" {
		return time.Time{}, invalid("no run id")
	}
	if err := l.check(ctx); err != nil {
		return time.Time{}, err
	}
	zs, err := l.rdb.ZRevRangeWithScores(ctx, l.followersKey(runID), 0, 0).Result()
	if err != nil {
		return time.Time{}, l.fail(ctx, "followers", err)
	}
	if len(zs) == 0 {
		return time.Time{}, nil
	}
	return time.UnixMilli(int64(zs[0].Score)), nil
}

var _ core.FollowerRegistry = (*Log)(nil)
