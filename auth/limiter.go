package auth

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// LimiterConfig configures a Limiter.
type LimiterConfig struct {
	// RPS is the sustained rate per key (requests per second); <= 0
	// disables limiting.
	RPS float64
	// Burst is the bucket size (default: max(1, ceil(RPS))).
	Burst int
	// IdleTTL drops a key's bucket after this long unused (default 10m, and
	// never less than the time to refill a bucket, so dropping loses
	// nothing).
	IdleTTL time.Duration
	// MaxKeys bounds the number of buckets (default 100000); past it, idle
	// buckets go first, then arbitrary ones.
	MaxKeys int
}

// Limiter rate-limits per key (per principal) with token buckets. It is
// safe for concurrent use; a nil *Limiter allows everything.
type Limiter struct {
	cfg LimiterConfig
	now func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

// NewLimiter returns a limiter; nil when cfg.RPS <= 0 (no limiting).
func NewLimiter(cfg LimiterConfig) *Limiter {
	if cfg.RPS <= 0 {
		return nil
	}
	if cfg.Burst <= 0 {
		cfg.Burst = max(1, int(math.Ceil(cfg.RPS)))
	}
	refill := time.Duration(float64(cfg.Burst) / cfg.RPS * float64(time.Second))
	if cfg.IdleTTL <= 0 {
		cfg.IdleTTL = 10 * time.Minute
	}
	cfg.IdleTTL = max(cfg.IdleTTL, refill)
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 100000
	}
	return &Limiter{cfg: cfg, now: time.Now, buckets: map[string]*bucket{}}
}

// Allow takes one token from key's bucket. When none is left it returns
// false and how long until one is (for Retry-After; see RetryAfterSeconds).
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		l.makeRoom(now)
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.cfg.RPS), l.cfg.Burst)}
		l.buckets[key] = b
		b.last = now
	} else {
		b.last = now
		if now.Sub(l.lastSweep) >= l.cfg.IdleTTL {
			l.sweep(now)
		}
	}
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Len returns the number of buckets held.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// makeRoom keeps the map under MaxKeys before a new bucket is added.
func (l *Limiter) makeRoom(now time.Time) {
	if now.Sub(l.lastSweep) >= l.cfg.IdleTTL || len(l.buckets) >= l.cfg.MaxKeys {
		l.sweep(now)
	}
	if len(l.buckets) < l.cfg.MaxKeys {
		return
	}
	// Still full of active keys: drop arbitrary ones, a tenth at once so
	// that the next new keys do not sweep again.
	keep := l.cfg.MaxKeys - max(1, l.cfg.MaxKeys/10)
	for k := range l.buckets {
		if len(l.buckets) <= keep {
			break
		}
		delete(l.buckets, k)
	}
}

func (l *Limiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, b := range l.buckets {
		if now.Sub(b.last) >= l.cfg.IdleTTL {
			delete(l.buckets, k)
		}
	}
}

// RetryAfterSeconds rounds d up to whole seconds (at least 1), for the
// Retry-After header.
func RetryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	return max(1, s)
}
